// Package training runs training pipelines: export clean corrections from
// the data pool, analyse them, generate rules and prompt templates and
// validate them (DESIGN §6).
//
// It owns training_runs and prompt_versions, serves /training and /prompts,
// and calls the data pool through datapool.Client.
package training
