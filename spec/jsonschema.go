package spec

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

//go:generate go run gen_schema.go

// SchemaFile is the name of the committed JSON Schema, next to this file.
const SchemaFile = "mzsync.schema.json"

// JSONSchema returns the JSON Schema (draft-07) of a manifest document,
// generated from the Go types and their struct tags (doc, default,
// required, pattern, minimum). Editors use it through
// `# yaml-language-server: $schema=...`; it is a help for authors, not the
// authority: Validate checks more than a schema can say.
func JSONSchema() ([]byte, error) {
	defs := map[string]any{}
	kinds := []struct {
		kind string
		spec reflect.Type
	}{
		{KindSource, reflect.TypeOf(SourceSpec{})},
		{KindSchema, reflect.TypeOf(SchemaSpec{})},
		{KindVersion, reflect.TypeOf(VersionSpec{})},
	}
	var oneOf []any
	for _, k := range kinds {
		typeSchema(reflect.TypeOf(document{}), defs)
		env := defs["document"].(map[string]any)
		props := map[string]any{}
		for n, p := range env["properties"].(map[string]any) {
			props[n] = p
		}
		props["apiVersion"] = map[string]any{"const": APIVersion, "description": "Always " + APIVersion + "."}
		props["kind"] = map[string]any{"const": k.kind}
		props["spec"] = typeSchema(k.spec, defs)
		defs[k.kind] = map[string]any{
			"type":                 "object",
			"description":          "A " + k.kind + " document.",
			"properties":           props,
			"required":             []string{"apiVersion", "kind", "metadata", "spec"},
			"additionalProperties": false,
		}
		oneOf = append(oneOf, map[string]any{"$ref": "#/definitions/" + k.kind})
	}
	delete(defs, "document")
	s := map[string]any{
		"$schema":     "http://json-schema.org/draft-07/schema#",
		"$id":         "https://mzsync.dev/schemas/v1alpha1/mzsync.schema.json",
		"title":       "mzsync manifest",
		"description": "One document of an mzsync manifest repository (" + APIVersion + ").",
		"oneOf":       oneOf,
		"definitions": defs,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// typeSchema returns the schema of t; structs go to defs and are
// referenced by name.
func typeSchema(t reflect.Type, defs map[string]any) any {
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem(), defs)
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), defs)}
	case reflect.Struct:
		name := t.Name()
		if _, done := defs[name]; !done {
			defs[name] = nil // break cycles
			props := map[string]any{}
			var required []string
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				jn, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if jn == "" || jn == "-" {
					continue
				}
				fs := typeSchema(f.Type, defs)
				if m, ok := fs.(map[string]any); ok && m["$ref"] == nil {
					annotate(m, f)
				} else if ok {
					fs = map[string]any{"allOf": []any{m}, "description": f.Tag.Get("doc")}
				}
				props[jn] = fs
				if f.Tag.Get("required") == "true" {
					required = append(required, jn)
				}
			}
			def := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
			if len(required) > 0 {
				def["required"] = required
			}
			defs[name] = def
		}
		return map[string]any{"$ref": "#/definitions/" + name}
	}
	panic("spec: no JSON Schema for " + t.String())
}

func annotate(m map[string]any, f reflect.StructField) {
	if d := f.Tag.Get("doc"); d != "" {
		m["description"] = d
	}
	if p := f.Tag.Get("pattern"); p != "" {
		m["pattern"] = p
	}
	if v := f.Tag.Get("minimum"); v != "" {
		n, _ := strconv.Atoi(v)
		m["minimum"] = n
	}
	if v, ok := f.Tag.Lookup("default"); ok {
		switch m["type"] {
		case "integer":
			n, _ := strconv.Atoi(v)
			m["default"] = n
		case "boolean":
			m["default"] = v == "true"
		default:
			m["default"] = v
		}
	}
}
