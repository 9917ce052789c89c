package kservegrpc

import (
	"strconv"

	"google.golang.org/grpc/codes"

	"github.com/gonogo-dev/gonogo"
)

// ClassOf maps a status code that the server sent to a gonogo error class:
//
//	OK                                              ErrNone
//	CANCELLED                                       ErrCanceled
//	DEADLINE_EXCEEDED                               ErrTimeout
//	INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
//	PERMISSION_DENIED, RESOURCE_EXHAUSTED,
//	FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE,
//	UNAUTHENTICATED                                 ErrHTTP4xx (the caller's fault)
//	UNKNOWN, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
//	DATA_LOSS, and any other code                   ErrHTTP5xx (the server's fault)
//
// The 4xx and 5xx split follows the HTTP statuses Google APIs and
// grpc-gateway give these codes. A call that ended without a status from
// the server is not classified here: Do records it as ErrConnect (or as
// ErrTimeout past its deadline, ErrCanceled when the run stopped).
func ClassOf(c codes.Code) gonogo.ErrorClass {
	switch c {
	case codes.OK:
		return gonogo.ErrNone
	case codes.Canceled:
		return gonogo.ErrCanceled
	case codes.DeadlineExceeded:
		return gonogo.ErrTimeout
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.ResourceExhausted, codes.FailedPrecondition, codes.Aborted, codes.OutOfRange,
		codes.Unauthenticated:
		return gonogo.ErrHTTP4xx
	default:
		return gonogo.ErrHTTP5xx
	}
}

// codeNames are the canonical names of the status codes, as the gRPC
// specification and grpc.status fault specs write them.
var codeNames = [...]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// CodeName is the canonical name of a status code (UNAVAILABLE,
// NOT_FOUND), or CODE(n) for a code outside the specification.
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "CODE(" + strconv.FormatUint(uint64(c), 10) + ")"
}
