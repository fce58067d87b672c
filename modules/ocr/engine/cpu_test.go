//go:build !notesseract && linux

package engine

import (
	"syscall"
	"testing"
	"time"
)

// measure returns the wall time and the process CPU time (user + system)
// of f.
func measure(t *testing.T, f func()) (wall, cpu time.Duration) {
	t.Helper()
	usage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start, c0 := time.Now(), usage()
	f()
	return time.Since(start), usage() - c0
}
