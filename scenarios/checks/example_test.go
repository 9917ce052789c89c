package checks_test

import (
	"fmt"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/scenarios/checks"
)

// A set of checks judges one streamed completion: the client shows its
// State the headers and events as it reads them, then Finish judges the
// result and returns the checks that failed.
func Example() {
	set, err := checks.NewSet([]checks.Spec{
		{Name: "ok", Status: "2xx"},
		{Name: "stream", Header: "Content-Type ~ ^text/event-stream"},
		{Name: "finished", JSON: `choices[0].finish_reason == "length"`},
		{Name: "done", SSE: "done"},
		{Name: "long", Length: "tokens >= 16"},
	})
	if err != nil {
		panic(err)
	}
	st := set.State()
	defer st.Release()
	st.Header([]byte("Content-Type"), []byte("text/event-stream"))
	st.Event([]byte(`{"choices":[{"text":"Hello","finish_reason":null}]}`))
	st.Event([]byte(`{"choices":[{"text":" world","finish_reason":"length"}]}`))
	st.Event([]byte("[DONE]"))
	failed := st.Finish(&gonogo.Result{Status: 200, OutputTokens: 2})
	for i, name := range set.Names() {
		fmt.Println(name, failed&(1<<i) == 0)
	}
	// Output:
	// ok true
	// stream true
	// finished true
	// done true
	// long false
}
