package specgen_test

import (
	"fmt"
	"testing"

	"github.com/hagen-ha/hagen/internal/specgen"
	"github.com/hagen-ha/hagen/schema"
)

// Every generated spec is valid, at the smallest and the largest size.
func TestGeneratedSpecsValidate(t *testing.T) {
	for _, n := range []int{2, 3, specgen.MaxSites} {
		for name, gen := range map[string]func(int) []byte{"multi-master": specgen.MultiMaster, "primary-standby": specgen.PrimaryStandby} {
			top, _, err := schema.Parse(fmt.Sprintf("%s-%d.cue", name, n), gen(n))
			if err != nil {
				t.Fatalf("%s with %d sites: %v", name, n, err)
			}
			if len(top.Sites) != n {
				t.Errorf("%s with %d sites has %d", name, n, len(top.Sites))
			}
		}
	}
}
