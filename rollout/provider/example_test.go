package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/rollout/provider"
)

// A rollout step's PromQL check, parsed from its YAML block and measured
// against a server answering as Prometheus does.
func ExampleNew() {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1712345678.1,"0.012"]}]}}`)
	}))
	defer prom.Close()

	block := fmt.Sprintf(`
name: error-rate
critical: true
prometheus:
  address: %s
  query: sum(rate(http_errors_total[1m])) / sum(rate(http_requests_total[1m]))
  condition: "< 0.05"
  timeout: 2s
`, prom.URL)
	var spec provider.Spec
	if err := input.ParseBlock("rollout.yaml", []byte(block), &spec); err != nil {
		fmt.Println(err)
		return
	}
	p, err := provider.New(spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := p.Measure(context.Background())
	fmt.Println(m.Name, m.Status, m.Detail)
	// Output: error-rate pass value 0.012 meets < 0.05
}
