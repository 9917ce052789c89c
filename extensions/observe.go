package extensions

import (
	"context"
	"net/http"

	"github.com/gonogo-dev/gonogo"
)

// Observer is shown what a response carries beyond the measurements of
// gonogo.Result, as a client reads it: response checks
// (scenarios/checks) read headers, JSON documents and server-sent events
// through it without the client keeping anything for them.
//
// The slices it is given are valid only during the call: an Observer
// copies what it keeps. Its calls for one request come in the order the
// response is read, never concurrently, and all before DoObserved
// returns, though not necessarily from the goroutine that called it.
type Observer interface {
	// Header is called with each header line of the final response
	// (interim 1xx responses are not shown): the name as sent and the
	// value, white space around it trimmed.
	Header(name, value []byte)
	// Event is called with the data of each server-sent event of a
	// streamed answer that the client read as JSON, and with [DONE].
	Event(data []byte)
	// Document is called with the body of a JSON answer that the client
	// reads whole (a non-streaming OpenAI completion, a KServe answer).
	Document(body []byte)
}

// Shows says what an ObservingClient shows its Observer.
type Shows uint8

// What a client can show.
const (
	// ShowsHeaders: every response's headers.
	ShowsHeaders Shows = 1 << iota
	// ShowsEvents: the events of streamed answers.
	ShowsEvents
	// ShowsDocuments: JSON answers read whole.
	ShowsDocuments
)

// ObservingClient is an optional capability of a client: Do with an
// Observer that is shown the response as it is read. Its Do is
// DoObserved with a nil Observer, and costs nothing more for it.
type ObservingClient interface {
	gonogo.Client
	// DoObserved is Do, showing obs what Shows says of the response.
	DoObserved(ctx context.Context, req *gonogo.Request, res *gonogo.Result, obs Observer)
	// Shows says what DoObserved shows.
	Shows() Shows
}

// ShowHeader shows obs every header of h, in no particular order; for
// clients that read responses through net/http.
func ShowHeader(obs Observer, h http.Header) {
	for name, values := range h {
		n := []byte(name)
		for _, v := range values {
			obs.Header(n, []byte(v))
		}
	}
}
