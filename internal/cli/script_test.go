package cli_test

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hagen-ha/hagen/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the expected output in the scripts from what hagen prints now (review the diff)")

// TestMain lets testscript run hagen in-process: "exec hagen" in a script
// re-enters this test binary, which runs cli.Main.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hagen": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs testdata/script/*.txtar: the command line's behaviour,
// output and exit codes, and the corpus of invalid specs with their exact
// messages.
func TestScripts(t *testing.T) {
	examples, err := filepath.Glob("../../examples/*.cue")
	if err != nil {
		t.Fatal(err)
	}
	if len(examples) == 0 {
		t.Fatal("no examples found in ../../examples")
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// The real examples, so scripts start from a valid spec.
			dir := filepath.Join(env.WorkDir, "examples")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for _, src := range examples {
				data, err := os.ReadFile(src)
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), data, 0o644); err != nil {
					return err
				}
			}
			home := filepath.Join(env.WorkDir, ".home")
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
			return nil
		},
		Cmds:                map[string]func(*testscript.TestScript, bool, []string){"exits": exits},
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

// exits CODE PROGRAM [ARGS...] runs PROGRAM like exec and checks that it
// ends with exit code CODE: hagen's exit codes are documented (1 usage,
// 2 invalid spec, 3 drift), and "! exec" cannot tell them apart.
func exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exits (name the expected code instead)")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit code", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("exits: %v", err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}
