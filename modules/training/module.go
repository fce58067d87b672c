package training

import (
	"context"
	"log/slog"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/sched"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// Name is the module's name in the role table.
const Name = "training"

// Deps are the platform pieces the module uses.
type Deps struct {
	Log *slog.Logger
	DB  *db.DB
}

// Module is the training module.
type Module struct {
	cfg config.TrainingConfig
	log *slog.Logger
	db  *db.DB
}

// New builds the module; it starts nothing.
func New(cfg config.TrainingConfig, d Deps) (*Module, error) {
	return &Module{cfg: cfg, log: d.Log, db: d.DB}, nil
}

// Name implements modules.Module.
func (m *Module) Name() string { return Name }

// Routes implements modules.Module.
func (m *Module) Routes() []server.Route { return nil }

// Jobs implements modules.Module.
func (m *Module) Jobs() []sched.Job { return nil }

// Start implements modules.Module.
func (m *Module) Start(context.Context) error { return nil }

// Stop implements modules.Module.
func (m *Module) Stop(context.Context) error { return nil }
