package cli_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowSpec is small but takes CUE minutes to evaluate: a comprehension
// over 300,000 numbers (the size limits stop only literal lists).
const slowSpec = "import \"list\"\nx: [for i in list.Range(0, 300000, 1) {i}]\n"

// The first SIGINT or SIGTERM stops validate and render in the middle of a
// long evaluation: exit code 130, a message, nothing written.
func TestSignalStopsEvaluation(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the process's CPU time from /proc")
	}
	hagen, err := exec.LookPath("hagen") // put on PATH by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "slow.cue")
	if err := os.WriteFile(spec, []byte(slowSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		args []string
	}{
		{syscall.SIGINT, []string{"validate", spec}},
		{syscall.SIGTERM, []string{"render", spec, "-o", filepath.Join(dir, "out")}},
	} {
		t.Run(tc.args[0]+"/"+tc.sig.String(), func(t *testing.T) {
			cmd := exec.Command(hagen, tc.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			// Past start-up (about 0.2 s of CPU here) and well into the
			// evaluation: the signal handler is installed before either.
			waitCPU(t, cmd.Process.Pid, 600*time.Millisecond, done)
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			var exit *exec.ExitError
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("still evaluating a minute after the signal")
			}
			if !errors.As(err, &exit) || exit.ExitCode() != 130 {
				t.Fatalf("ended with %v, want exit code 130; stderr:\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted while reading") || stdout.Len() > 0 {
				t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("render wrote its output directory: %v", err)
			}
		})
	}
}

// waitCPU waits until process pid has used cpu of processor time.
func waitCPU(t *testing.T, pid int, cpu time.Duration, done <-chan error) {
	t.Helper()
	for {
		select {
		case err := <-done:
			t.Fatalf("hagen ended before the signal: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		// The fields after the command name: utime and stime are the
		// 12th and 13th, in clock ticks of 10 ms.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		utime, _ := strconv.Atoi(fields[11])
		stime, _ := strconv.Atoi(fields[12])
		if time.Duration(utime+stime)*10*time.Millisecond >= cpu {
			return
		}
	}
}
