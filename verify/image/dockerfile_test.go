package image

import (
	"strings"
	"testing"
)

func TestDockerfile(t *testing.T) {
	df := Dockerfile()
	lines := strings.Split(df, "\n")
	var from []string
	for _, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			from = append(from, l)
		}
	}
	if len(from) != 1 || from[0] != "FROM debian:bookworm-slim" {
		t.Errorf("FROM lines = %q, want exactly FROM debian:bookworm-slim", from)
	}

	// Every package is installed, as a whole word of the apt-get command.
	words := map[string]bool{}
	for _, w := range strings.Fields(df) {
		words[w] = true
	}
	for _, p := range Packages() {
		if !words[p] {
			t.Errorf("package %s missing from the Dockerfile", p)
		}
	}
	for _, want := range []string{"--no-install-recommends", "apt-get update"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The same post-install steps and image config as the debootstrap build.
	for _, step := range postInstall {
		if !strings.Contains(df, step) {
			t.Errorf("post-install step missing: %s", step)
		}
	}
	for _, c := range config {
		if !strings.Contains(df, "\n"+c+"\n") {
			t.Errorf("config line missing: %s", c)
		}
	}
	if !strings.Contains(df, LabelInputs+"="+InputsHash()) {
		t.Errorf("Dockerfile lacks the %s label", LabelInputs)
	}
	// Debootstrap-only steps would fail on Docker's bind mounts.
	for _, step := range rootfsOnly {
		if strings.Contains(df, step) {
			t.Errorf("rootfs-only step in the Dockerfile: %s", step)
		}
	}
	// A line starting with # inside a RUN continuation would be dropped
	// as a comment by the Dockerfile parser.
	for i, l := range lines[1:] {
		if strings.HasPrefix(strings.TrimSpace(l), "#") && strings.HasSuffix(lines[i], "\\") {
			t.Errorf("line %d is a comment inside a continuation: %q", i+2, l)
		}
	}
}
