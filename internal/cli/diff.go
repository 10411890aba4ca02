package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/hagen-ha/hagen/render"
)

// diffTree compares dir with a rendered tree and returns a unified diff of
// every file that differs, is missing or is extra; "" when they agree.
func diffTree(dir string, tree render.Tree) (string, error) {
	onDisk := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == manifestName {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		onDisk[rel] = data
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	paths := map[string]bool{}
	for p := range onDisk {
		paths[p] = true
	}
	for p := range tree {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	var b strings.Builder
	for _, p := range sorted {
		have, inDir := onDisk[p]
		f, inTree := tree[p]
		if inDir && inTree && string(have) == string(f.Data) {
			continue
		}
		from, to := "a/"+p, "b/"+p
		if !inDir {
			from = "/dev/null"
		}
		if !inTree {
			to = "/dev/null"
		}
		d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A:        difflib.SplitLines(string(have)),
			B:        difflib.SplitLines(string(f.Data)),
			FromFile: from,
			ToFile:   to,
			Context:  3,
		})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "diff %s\n%s", p, d)
	}
	return b.String(), nil
}
