package schema

import (
	"os"
	"strings"
	"testing"

	"cuelang.org/go/cue/errors"
)

// The VIP's highest priority must be the streaming primary: the node that
// takes the VIP on a fresh start promotes its database.
func TestVIPPromotionPriorities(t *testing.T) {
	src, err := os.ReadFile("../examples/primary-standby.cue")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Parse("primary-standby.cue", src); err != nil {
		t.Fatalf("example: %v", errors.Details(err, nil))
	}
	swapped := strings.Replace(string(src), "priorities: {db0: 150, db1: 100}", "priorities: {db0: 100, db1: 150}", 1)
	if swapped == string(src) {
		t.Fatal("example no longer has the priorities line this test edits")
	}
	_, _, err = Parse("swapped.cue", []byte(swapped))
	if err == nil {
		t.Fatal("a standby with the highest VIP priority was accepted")
	}
	if msg := errors.Details(err, nil); !strings.Contains(msg, "vip.priorities.db1: 150 is not below the primary db0's 100") {
		t.Errorf("error does not name the field and the primary:\n%s", msg)
	}
}

func TestPrimaryStandbyWithoutVIPWarns(t *testing.T) {
	src, err := os.ReadFile("../examples/primary-standby.cue")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	start, end := strings.Index(s, "\nvip: {"), strings.Index(s, "\nproxy: {")
	if start < 0 || end < start {
		t.Fatal("example no longer has the vip block this test removes")
	}
	_, warnings, err := Parse("novip.cue", []byte(s[:start]+s[end:]))
	if err != nil {
		t.Fatalf("without vip: %v", errors.Details(err, nil))
	}
	for _, w := range warnings {
		if w.Path == "database.streaming" && strings.Contains(w.Msg, "nothing promotes") {
			return
		}
	}
	t.Errorf("no warning about manual promotion; got %v", warnings)
}
