package schema

import (
	"fmt"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

// Limits on a spec, checked before CUE evaluates it: evaluation time grows
// faster than the size of the input (a list of 160,000 numbers evaluates
// for minutes), so a spec far beyond any deployment is refused up front.
// A spec of 255 sites, the most a deployment can have, is about 60 KiB
// and 20,000 syntax nodes.
const (
	// MaxSpecBytes is the largest spec file hagen reads.
	MaxSpecBytes = 1 << 20
	// MaxListElements is the most elements one list of a spec may have.
	MaxListElements = 2000
	// MaxSyntaxNodes is the most syntax nodes (fields, values, list
	// elements, ...) a spec may have.
	MaxSyntaxNodes = 100_000
)

// fileStart is the position of the first byte of the spec: where an error
// that concerns the whole file is reported.
func fileStart(filename string, src []byte) token.Pos {
	return filePos(filename, src, 0)
}

// filePos is the position of the byte at offset in src.
func filePos(filename string, src []byte, offset int) token.Pos {
	// One byte more than the content, so that an empty file has a first
	// position too.
	f := token.NewFile(filename, -1, len(src)+1)
	if len(src) == 0 {
		f.SetLines([]int{0})
	} else {
		f.SetLinesForContent(src)
	}
	return f.Pos(offset, token.NoRelPos)
}

func tooLarge(filename string, src []byte) error {
	return errors.Newf(filePos(filename, src, MaxSpecBytes),
		"the spec is larger than %d MiB, hagen's limit for a spec file (this is where the limit is reached); a spec of 255 sites is about 60 KiB, so check that this is the right file",
		MaxSpecBytes>>20)
}

// syntaxErrors are the parser's errors, with any character the terminal
// would interpret escaped.
func syntaxErrors(err error, filename string, src []byte) error {
	var out errors.Error
	for _, e := range errors.Errors(err) {
		pos := e.Position()
		if pos.Filename() != filename {
			pos = fileStart(filename, src)
		}
		format, args := e.Msg()
		out = errors.Append(out, errors.Newf(pos, "%s", escapeText(fmt.Sprintf(format, args...))))
	}
	return out
}

// checkLimits refuses a syntax tree too large to evaluate in reasonable
// time: a list longer than MaxListElements, or more than MaxSyntaxNodes
// nodes in all.
func checkLimits(f *ast.File) error {
	nodes := 0
	var errs errors.Error
	ast.Walk(f, func(n ast.Node) bool {
		nodes++
		if nodes == MaxSyntaxNodes+1 {
			errs = errors.Append(errs, errors.Newf(n.Pos(),
				"the spec has more than %d syntax nodes (fields, values, list elements), hagen's limit; this is where the limit is reached: a spec of 255 sites has about 20,000", MaxSyntaxNodes))
		}
		if l, ok := n.(*ast.ListLit); ok && len(l.Elts) > MaxListElements {
			errs = errors.Append(errs, errors.Newf(l.Lbrack,
				"this list has %d elements; hagen refuses lists of more than %d (a deployment has at most 255 sites)", len(l.Elts), MaxListElements))
		}
		return nodes <= MaxSyntaxNodes
	}, nil)
	return errs
}
