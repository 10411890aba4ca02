// Package lazyregexp is a regular expression compiled on its first use.
//
// Every hagen command pays for the initialisation of every package linked
// into the binary, so a package-level regexp.MustCompile in verify costs
// `hagen validate` its compilation too. A package-level lazyregexp.New
// costs nothing until a match needs it. In a test binary the pattern is
// compiled at once, so that a broken pattern fails the package's tests
// even when no test reaches the code that uses it. Modelled on the Go
// tree's internal/lazyregexp.
package lazyregexp

import (
	"regexp"
	"sync"
	"testing"
)

// Regexp is a regexp.Regexp compiled on first use; its methods are those
// of regexp.Regexp.
type Regexp struct {
	str string
	re  func() *regexp.Regexp
}

// New returns the lazily compiled expr; like regexp.MustCompile, it panics
// (on first use) when expr does not compile.
func New(expr string) *Regexp {
	r := &Regexp{str: expr, re: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })}
	if testing.Testing() {
		r.re()
	}
	return r
}

func (r *Regexp) String() string { return r.str }

func (r *Regexp) MatchString(s string) bool { return r.re().MatchString(s) }

func (r *Regexp) FindStringIndex(s string) []int { return r.re().FindStringIndex(s) }

func (r *Regexp) FindSubmatch(b []byte) [][]byte { return r.re().FindSubmatch(b) }

func (r *Regexp) FindStringSubmatch(s string) []string { return r.re().FindStringSubmatch(s) }

func (r *Regexp) FindAllStringSubmatch(s string, n int) [][]string {
	return r.re().FindAllStringSubmatch(s, n)
}

func (r *Regexp) FindAllStringSubmatchIndex(s string, n int) [][]int {
	return r.re().FindAllStringSubmatchIndex(s, n)
}

func (r *Regexp) ReplaceAllString(src, repl string) string {
	return r.re().ReplaceAllString(src, repl)
}
