package spec

import (
	"errors"
	"fmt"
)

// Error is one problem in a manifest set, located as precisely as the input
// allows.
type Error struct {
	// File is the manifest file, relative to the root.
	File string
	// Document is the 1-based document index in File, 0 when the problem is
	// with the file as a whole.
	Document int
	// Line is the 1-based line, 0 when unknown.
	Line int
	// Path is the field path inside the document, e.g. spec.views[0].sql.
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error renders the problem as file:line: document N: path: message.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Document > 0 {
		s += fmt.Sprintf(": document %d", e.Document)
	}
	if e.Path != "" {
		s += ": " + e.Path
	}
	return s + ": " + e.Msg
}

// Errors returns every *Error joined in err, in order.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var e *Error
		if errors.As(err, &e) {
			out = append(out, e)
		}
	}
	walk(err)
	return out
}

// errList collects problems of one document.
type errList struct {
	m    *Manifest
	errs []error
}

func (l *errList) add(path, format string, args ...any) {
	line := 0
	if l.m != nil {
		line = l.m.LineOf(path)
	}
	l.addAt(line, path, format, args...)
}

func (l *errList) addAt(line int, path, format string, args ...any) {
	e := &Error{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)}
	if l.m != nil {
		e.File, e.Document = l.m.File, l.m.Document
	}
	l.errs = append(l.errs, e)
}
