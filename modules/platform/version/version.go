// Package version reports what binary is running. Version and Commit are set
// at build time with -ldflags "-X …/version.Version=… -X …/version.Commit=…";
// without them the module build information is used.
package version

import (
	"runtime"
	"runtime/debug"
)

// Set by the linker; see the Makefile's build target.
var (
	Version = ""
	Commit  = ""
)

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
}

// Get returns the build's Info, falling back to the VCS data Go embeds.
func Get() Info {
	info := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Commit == "" && len(s.Value) >= 7 {
				info.Commit = s.Value[:7]
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}
