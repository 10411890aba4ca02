package render

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlDoc encodes v as a YAML configuration file with the YAML encoder:
// head (the file's header comment lines) first, then the document, with
// the comment lines of comments above the keys they name ("a.b" is the
// key b of the mapping a). Comments are hagen's own text; a spec string
// reaches one only through commentText.
func yamlDoc(head string, v any, comments map[string][]string) ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	used := map[string]bool{}
	yamlComment(&n, "", comments, used)
	for k := range comments {
		if !used[k] {
			return nil, fmt.Errorf("a comment names the key %s, which the document does not have", k)
		}
	}
	var buf bytes.Buffer
	buf.WriteString(head)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func yamlComment(n *yaml.Node, path string, comments map[string][]string, used map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			yamlComment(c, path, comments, used)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if path != "" {
				k = path + "." + k
			}
			if lines, ok := comments[k]; ok {
				n.Content[i].HeadComment = strings.Join(lines, "\n")
				used[k] = true
			}
			yamlComment(n.Content[i+1], k, comments, used)
		}
	}
}
