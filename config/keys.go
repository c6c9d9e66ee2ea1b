package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// unknownKeys walks a parsed file against the type it fills and names every
// key that type lacks, with its line and the keys known at that level:
// yaml.v3's own message names a Go type, which a user cannot act on.
func unknownKeys(b []byte, t reflect.Type) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil // the decoder reports a file that is not YAML
	}
	var found []string
	walkKeys(&doc, t, "", &found)
	if len(found) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(found, "; "))
}

func walkKeys(n *yaml.Node, t reflect.Type, at string, found *[]string) {
	if n == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkKeys(c, t, at, found)
		}
		return
	case yaml.AliasNode:
		// An alias repeats a node already walked where it was anchored.
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				known := make([]string, 0, len(fields))
				for name := range fields {
					known = append(known, name)
				}
				slices.Sort(known)
				where := ""
				if at != "" {
					where = " under " + at
				}
				*found = append(*found, fmt.Sprintf("line %d: unknown key %q%s (known: %s)", k.Line, k.Value, where, strings.Join(known, ", ")))
				continue
			}
			walkKeys(v, ft, join(at, k.Value), found)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkKeys(n.Content[i+1], t.Elem(), join(at, n.Content[i].Value), found)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			walkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", at, i), found)
		}
	}
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// yamlFields maps the keys a struct reads to their types, as yaml.v3
// names them: the tag's name, else the field's name in lower case, with
// inline structs' keys lifted.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
