package cli

import (
	"fmt"
	"os"

	cueerrors "cuelang.org/go/cue/errors"

	"github.com/hagen-ha/hagen/schema"
)

// loadSpec loads and validates a spec, printing warnings, and every
// violation when it is invalid. ok is false when the command must end with
// ExitInvalid.
func loadSpec(e *env, file string) (*schema.Topology, bool) {
	if _, err := os.Stat(file); err != nil {
		fmt.Fprintf(e.stderr, "hagen: %v\n", err)
		return nil, false
	}
	t, warnings, err := schema.Load(file)
	for _, w := range warnings {
		fmt.Fprintln(e.stderr, w)
	}
	if err != nil {
		printSpecErrors(e, err)
		return nil, false
	}
	return t, true
}

// printSpecErrors prints every violation with its position, one after the
// other, and how many there were.
func printSpecErrors(e *env, err error) {
	cwd, _ := os.Getwd()
	cueerrors.Print(e.stderr, err, &cueerrors.Config{Cwd: cwd})
	if n := len(cueerrors.Errors(err)); n > 1 {
		fmt.Fprintf(e.stderr, "%d errors\n", n)
	}
}
