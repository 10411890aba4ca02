package verify

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"
)

// checkShell reads a script with its interpreter's parser (`bash -n`, or
// `sh -n` for a #!/bin/sh script) and with `shellcheck -x` at its default
// severity, the bar every rendered script must pass. A file without a #!
// line is a library the scripts source with bash (lib/hagen.sh): it is
// checked as bash, and fails if it is executable, since running it would
// not use bash.
func (b *checkBox) checkShell(ctx context.Context, f *checkFile) (CheckResult, error) {
	r := CheckResult{File: f.rel, Checker: checkerShell}
	interp := shellInterpreter(f.data)
	var msgs []string
	ok := true
	if interp == "" {
		interp = "bash"
		if f.mode&0o111 != 0 {
			ok = false
			msgs = append(msgs, fmt.Sprintf("%s:1: executable (mode %04o) but has no #! line", inBox(f), f.mode))
		}
	}
	if f.mode&0o111 == 0 && bytes.HasPrefix(f.data, []byte("#!")) {
		ok = false
		msgs = append(msgs, fmt.Sprintf("%s:1: has a #! line but is not executable (mode %04o)", inBox(f), f.mode))
	}
	code, out, err := b.exec(ctx, "", nil, interp, "-n", inBox(f))
	if err != nil {
		return r, err
	}
	if code != 0 {
		ok = false
		msgs = append(msgs, checkCleanLines(out))
	}
	args := []string{"shellcheck", "--format=gcc", "--external-sources"}
	if shellInterpreter(f.data) == "" && !bytes.Contains(f.data, []byte("shellcheck shell=")) {
		args = append(args, "--shell=bash")
	}
	code, out, err = b.exec(ctx, "", nil, append(args, inBox(f))...)
	if err != nil {
		return r, err
	}
	if code != 0 {
		ok = false
		if s := checkCleanLines(out); s != "" {
			msgs = append(msgs, s)
		} else {
			msgs = append(msgs, fmt.Sprintf("shellcheck exited %d without a message", code))
		}
	}
	r.OK = ok
	r.Message = strings.Join(msgs, "\n")
	return r, nil
}

// shellInterpreter is "bash" or "sh" when data starts with a #! line
// naming that shell (directly or through env), else "".
func shellInterpreter(data []byte) string {
	if !bytes.HasPrefix(data, []byte("#!")) {
		return ""
	}
	line, _, _ := bytes.Cut(data[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return ""
	}
	prog := path.Base(fields[0])
	if prog == "env" {
		for _, a := range fields[1:] {
			if !strings.HasPrefix(a, "-") {
				prog = path.Base(a)
				break
			}
		}
	}
	switch prog {
	case "bash", "sh", "dash":
		return prog
	}
	return ""
}
