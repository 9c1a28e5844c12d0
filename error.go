package ccgw

import (
	"errors"
	"fmt"
)

// Error is a failure that maps to a retcode. Op is the spec method name of the
// operation (e.g. "handShake"); Err is an underlying cause that is logged, never sent.
type Error struct {
	Code Retcode
	Op   string
	Err  error
}

func (e *Error) Error() string {
	s := string(e.Code)
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a cause formatted from format and args.
func Errorf(code Retcode, format string, args ...any) *Error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Fail returns an *Error with code and no cause.
func Fail(code Retcode) *Error { return &Error{Code: code} }

// CodeOf returns the retcode err maps to: RetOK for nil, the Code of an *Error in
// err's chain, and RetInternal for any other error.
func CodeOf(err error) Retcode {
	if err == nil {
		return RetOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return RetInternal
}
