package spec

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// MaxNameLen is the longest name Materialize accepts, in bytes.
const MaxNameLen = 255

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// reservedSchemas cannot be managed schemas or version schemas: mzsync's
// lease, and schemas whose swap would take system or shared objects away.
var reservedSchemas = map[string]string{
	"mzsync_lease":       "mzsync's apply lease",
	"public":             "the default schema of sources and connections",
	"information_schema": "a system schema",
}

// CheckName returns why s is not a valid mzsync name, or nil. mzsync names
// are what Materialize reads from an unquoted identifier, so they are lower
// case: [a-z_][a-z0-9_$]*, at most 255 bytes, and not starting with the
// system prefixes mz_ or pg_.
func CheckName(s string) error {
	if err := checkRefName(s); err != nil {
		return err
	}
	if strings.HasPrefix(s, "mz_") || strings.HasPrefix(s, "pg_") {
		return fmt.Errorf("%q uses the prefix %s, which is reserved for system objects", s, s[:3])
	}
	return nil
}

// checkRefName checks a name that refers to an object mzsync does not
// create (a cluster, a connection): the syntax of CheckName without the
// reserved prefixes.
func checkRefName(s string) error {
	switch {
	case s == "":
		return errors.New("required")
	case len(s) > MaxNameLen:
		return fmt.Errorf("longer than %d bytes", MaxNameLen)
	case !identRE.MatchString(s):
		if l := strings.ToLower(s); identRE.MatchString(l) {
			return fmt.Errorf("%q must be lower case (Materialize folds unquoted names to lower case): write %q", s, l)
		}
		return fmt.Errorf("%q is not a valid name: use lower-case letters, digits, _ and $, starting with a letter or _", s)
	}
	return nil
}

// checkColumn checks a column name, which is always quoted in SQL and may
// therefore hold any text.
func checkColumn(s string) error {
	switch {
	case s == "":
		return errors.New("empty column name")
	case len(s) > MaxNameLen:
		return fmt.Errorf("longer than %d bytes", MaxNameLen)
	case strings.ContainsRune(s, 0):
		return errors.New("contains a NUL byte")
	}
	return nil
}

// ParseReference parses an upstream table reference: schema.table, or a
// bare table in schema public. Unquoted parts fold to lower case as in
// PostgreSQL; "quoted" parts keep their case.
func ParseReference(s string) (schema, table string, err error) {
	parts, err := splitQualified(s)
	if err != nil {
		return "", "", err
	}
	switch len(parts) {
	case 1:
		return DefaultUpstreamSchema, parts[0], nil
	case 2:
		return parts[0], parts[1], nil
	}
	return "", "", fmt.Errorf("%q has %d parts; write schema.table", s, len(parts))
}

func splitQualified(s string) ([]string, error) {
	if s == "" {
		return nil, errors.New("required")
	}
	var parts []string
	for i := 0; ; {
		var part string
		if i < len(s) && s[i] == '"' {
			end, ok := scanQuoted(s, i, '"', false)
			if !ok {
				return nil, fmt.Errorf("%q has an unterminated quoted name", s)
			}
			part = strings.ReplaceAll(s[i+1:end-1], `""`, `"`)
			i = end
			if part == "" {
				return nil, fmt.Errorf("%q has an empty quoted name", s)
			}
		} else {
			j := i
			for j < len(s) && s[j] != '.' {
				j++
			}
			part = s[i:j]
			if !refPartRE.MatchString(part) {
				return nil, fmt.Errorf("%q is not schema.table: %q is not a name (quote it with \" if it has other characters)", s, part)
			}
			part = strings.ToLower(part)
			i = j
		}
		if err := checkColumn(part); err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		parts = append(parts, part)
		if i == len(s) {
			return parts, nil
		}
		if s[i] != '.' {
			return nil, fmt.Errorf("%q: expected '.' after %q", s, part)
		}
		i++
		if i == len(s) {
			return nil, fmt.Errorf("%q ends with '.'", s)
		}
	}
}

// ParseQualifiedName parses name or schema.name of an existing object, each
// part a lower-case name (see CheckName; system prefixes are allowed); a bare name is in defaultSchema.
func ParseQualifiedName(s, defaultSchema string) (schema, name string, err error) {
	if s == "" {
		return "", "", errors.New("required")
	}
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return "", "", fmt.Errorf("%q has %d parts; write name or schema.name", s, len(parts))
	}
	for _, p := range parts {
		if err := checkRefName(p); err != nil {
			return "", "", err
		}
	}
	if len(parts) == 1 {
		return defaultSchema, parts[0], nil
	}
	return parts[0], parts[1], nil
}

var refPartRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkEnvName checks that s names an environment variable and does not
// hold a URL or a credential.
func checkEnvName(s string) error {
	switch {
	case s == "":
		return errors.New("required")
	case strings.Contains(s, "://"), strings.Contains(s, "@"), strings.Contains(s, "="),
		strings.Contains(s, "/"), strings.Contains(s, ":"), strings.Contains(s, " "):
		return errors.New("must name an environment variable that holds the URL, never the URL or a credential itself (e.g. PG_UPSTREAM_URL)")
	case !envNameRE.MatchString(s) || len(s) > MaxNameLen:
		return errors.New("must name an environment variable: letters, digits and _, not starting with a digit")
	}
	return nil
}
