// Command ocrpool is the OCR data pool and training service: one binary
// whose roles (datapool, training, ocr) are chosen at start. The commands
// live in modules/cli; each is a few lines that load the config and call
// into modules/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ocrpool/ocrpool/modules/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.NewRoot(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocrpool:", err)
		os.Exit(1)
	}
}
