// Package web holds the dashboard's assets, embedded in the binary so the
// service needs no CDN and no files beside it.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// Static is the dashboard's file tree: index.html at its root.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time; this cannot fail
	}
	return sub
}
