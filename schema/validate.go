package schema

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// Validate checks a Topology built in Go rather than read from a spec file
// with the rules Parse applies in Go: the rules that relate fields, and
// the rules for strings (no control characters anywhere, safe paths,
// image references, URLs, secrets as references, no literal secrets). The
// CUE schema's own constraints (types, ranges, patterns) are not checked
// again. It returns nil, or a *multierror.Error that prints one
// "path: message" line per violation.
func (t *Topology) Validate() error {
	t.witnessDefaults()
	c := &checker{t: t}
	c.run()
	var errs *multierror.Error
	for _, v := range c.errs {
		errs = multierror.Append(errs, fmt.Errorf("%s: %s", escapeText(v.path), v.msg))
	}
	if errs == nil {
		return nil
	}
	errs.ErrorFormat = oneLinePerError
	return errs
}

// oneLinePerError prints a list of errors one per line.
func oneLinePerError(errs []error) string {
	lines := make([]string, len(errs))
	for i, err := range errs {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}
