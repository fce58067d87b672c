// Package deployment rolls releases out to OCR traffic by canary or
// blue-green and rolls them back (DESIGN §6).
//
// It owns the deployments table, serves /deployments and calls training
// (release artefacts) and the data pool (pattern sets).
package deployment
