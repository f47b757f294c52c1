// Package field carries configuration errors that name the field at fault,
// so that the loader can point at the file and line where the field is
// written. Every package's Config.Validate returns these; the package has
// no dependencies so that any package can use it.
package field

import (
	"errors"
	"fmt"
	"strconv"
)

// Error is a bad value at Path, written in YAML path form relative to the
// section being validated: "units[3].phone", "office_hours[1]".
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errorf builds an *Error for path.
func Errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Join returns the given *Error values as one error, nil when there are
// none.
func Join(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// Index names element i of the list at path: Index("units", 3) is
// "units[3]".
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// Key names the key under path: Key("units[3]", "phone") is
// "units[3].phone".
func Key(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	}
	return path + "." + key
}

// Prefix puts every field error inside err under path (a section name), and
// wraps any other error as an error of the section itself. It returns the
// field errors flattened, for the loader to place in the file.
func Prefix(path string, err error) []*Error {
	if err == nil {
		return nil
	}
	var out []*Error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *Error
		if errors.As(e, &fe) {
			out = append(out, &Error{Path: Key(path, fe.Path), Msg: fe.Msg})
			return
		}
		out = append(out, &Error{Path: path, Msg: e.Error()})
	}
	walk(err)
	return out
}
