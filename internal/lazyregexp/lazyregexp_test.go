package lazyregexp

import "testing"

// A lazy expression matches as the compiled one does, and a broken one
// panics as soon as it is declared in a test binary.
func TestNew(t *testing.T) {
	r := New(`^a(b+)c$`)
	if !r.MatchString("abbc") || r.MatchString("ac") {
		t.Errorf("%s matches wrongly", r)
	}
	if m := r.FindStringSubmatch("abbbc"); len(m) != 2 || m[1] != "bbb" {
		t.Errorf("FindStringSubmatch = %q", m)
	}
	defer func() {
		if recover() == nil {
			t.Error("a broken pattern did not panic in a test binary")
		}
	}()
	New(`a(`)
}
