package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	cueerrors "cuelang.org/go/cue/errors"

	"github.com/hagen-ha/hagen/schema"
)

// loadSpec loads and validates a spec, printing warnings, and every
// violation when it is invalid. When ok is false the command ends with
// code: ExitInvalid, or ExitInterrupted when a signal stopped the
// evaluation (which then returns at once, whatever CUE is doing).
func loadSpec(e *env, file string) (t *schema.Topology, code int, ok bool) {
	if _, err := os.Stat(file); err != nil {
		fmt.Fprintf(e.stderr, "hagen: %v\n", err)
		return nil, ExitInvalid, false
	}
	t, warnings, err := schema.LoadContext(e.ctx, file)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "hagen: interrupted while reading %s; nothing was validated or written\n", file)
		return nil, ExitInterrupted, false
	}
	for _, w := range warnings {
		fmt.Fprintln(e.stderr, w)
	}
	if err != nil {
		printSpecErrors(e, err)
		return nil, ExitInvalid, false
	}
	return t, ExitOK, true
}

// printSpecErrors prints every violation with its position, one after the
// other, and how many there were.
func printSpecErrors(e *env, err error) {
	cwd, _ := os.Getwd()
	cueerrors.Print(e.stderr, err, &cueerrors.Config{Cwd: cwd})
	if n := schema.Count(err); n > 1 {
		fmt.Fprintf(e.stderr, "%d errors\n", n)
	}
}
