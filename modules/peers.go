package modules

import (
	"github.com/ocrpool/ocrpool/config"
)

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
