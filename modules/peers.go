package modules

import (
	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/datapool"
)

// datapoolClient returns the in-process data pool when its role runs here
// and an HTTP client of peers.datapool_url otherwise (Check has made sure
// the URL and the service key are set).
func (a *App) datapoolClient() (datapool.Client, error) {
	for _, m := range a.modules {
		if dp, ok := m.(*datapool.Module); ok {
			return dp.Service(), nil
		}
	}
	return datapool.NewHTTPClient(a.cfg.Peers.DatapoolURL, a.cfg.Peers.ServiceKey, a.p.HTTP)
}

// peerURL is where module m is reached when it runs in another process:
// the URL of the role that runs it.
func peerURL(p config.PeersConfig, m string) string {
	switch RoleOf(m) {
	case "datapool":
		return p.DatapoolURL
	case "training":
		return p.TrainingURL
	case "ocr":
		return p.OCRURL
	}
	return ""
}
