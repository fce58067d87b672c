package modules

import (
	"context"
	"fmt"

	"github.com/ocrpool/ocrpool/modules/datapool"
	"github.com/ocrpool/ocrpool/modules/deployment"
	"github.com/ocrpool/ocrpool/modules/ocr"
	"github.com/ocrpool/ocrpool/modules/ocr/extract"
	"github.com/ocrpool/ocrpool/modules/training"
)

// build constructs module name with its dependencies: its config section,
// the platform pieces it uses and clients for the modules it calls (local
// or HTTP, see peers.go). Modules earlier in start order are already built.
func (a *App) build(name string) (Module, error) {
	log := a.log.With("module", name)
	switch name {
	case Datapool:
		return datapool.New(a.cfg.Datapool, datapool.Deps{Log: log, DB: a.p.DB, Cache: a.p.Cache, Metrics: a.p.Metrics,
			PIIKey: a.cfg.Security.PIIKey, SQLitePath: a.cfg.Database.Path})
	case Training:
		return training.New(a.cfg.Training, training.Deps{Log: log, DB: a.p.DB})
	case Deployment:
		return deployment.New(a.cfg.Deployment, deployment.Deps{Log: log, DB: a.p.DB})
	case OCR:
		dp, err := a.datapoolClient()
		if err != nil {
			return nil, err
		}
		m, err := ocr.New(a.cfg.OCR, ocr.Deps{Log: log, Metrics: a.p.Metrics, Cache: a.p.Cache,
			Patterns: func(ctx context.Context) (extract.Patterns, error) {
				ps, err := dp.ActivePatternSet(ctx)
				if err != nil {
					return nil, err
				}
				return ocr.CompilePatterns(ps.Set())
			},
			PatternVersion: func(ctx context.Context, version string) (extract.Patterns, error) {
				ps, err := dp.PatternSetVersion(ctx, version)
				if err != nil {
					return nil, err
				}
				return ocr.CompilePatterns(ps.Set())
			},
			PatternChannel: datapool.PatternsChannel(a.p.Cache),
		})
		if err != nil {
			return nil, err
		}
		a.p.Server.AddDetail("patterns", func() any { return m.Service().PatternStatus() })
		return m, nil
	}
	return nil, fmt.Errorf("no module %q", name)
}
