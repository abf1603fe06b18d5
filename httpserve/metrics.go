package httpserve

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec // by request method and status code
	bodyBytes   *prometheus.CounterVec // by send method
	inFlight    prometheus.Gauge
	duration    prometheus.Histogram
	truncations prometheus.Counter
	aborted     prometheus.Counter
	fallbacks   prometheus.Counter
	connsOpen   prometheus.Gauge
	connsTotal  prometheus.Counter

	idleReclaimed  prometheus.Counter
	listingRefused prometheus.Counter
	listingBytes   prometheus.Gauge

	// The children most responses land in, looked up once: a lookup by
	// label values hashes them each time.
	getOK              prometheus.Counter // requests{GET,200}
	sendfile, gathered prometheus.Counter // bodyBytes{sendfile}, {readwrite}
}

func newMetrics(reg *prometheus.Registry) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zcopy_http_requests_total",
			Help: "HTTP requests answered, by request method and status code.",
		}, []string{"method", "code"}),
		bodyBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zcopy_http_body_bytes_total",
			Help: "Response body bytes sent, by the method that moved them (a zerocopy method, or buffered for net/http's own copy).",
		}, []string{"send_method"}),
		inFlight: newGauge("zcopy_http_responses_in_flight",
			"Responses being served."),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "zcopy_http_response_duration_seconds",
			Help:    "Time from a request reaching the handler to the end of its response body.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 12), // 100µs .. ~7 min
		}),
		truncations: newCounter("zcopy_http_truncations_total",
			"Responses cut short because their file shrank while it was being sent; each closed its connection."),
		aborted: newCounter("zcopy_http_aborted_responses_total",
			"Responses cut short for another reason (client gone or stalled past the write timeout, server stopped)."),
		fallbacks: newCounter("zcopy_http_send_fallbacks_total",
			"Body sends in which the engine fell back from a method the kernel refused."),
		connsOpen: newGauge("zcopy_http_connections_open",
			"Client connections open."),
		connsTotal: newCounter("zcopy_http_connections_total",
			"Client connections accepted."),
		idleReclaimed: newCounter("zcopy_http_idle_connections_reclaimed_total",
			"Idle keep-alive connections closed between requests to make room for a new connection at the connection cap."),
		listingRefused: newCounter("zcopy_http_listings_refused_total",
			"Directory listings answered 503 because listing pages held the whole listing memory budget."),
		listingBytes: newGauge("zcopy_http_listing_bytes",
			"Bytes of directory listing pages being built or waiting to be written."),
	}
	m.getOK = m.requests.WithLabelValues(http.MethodGet, "200")
	m.sendfile = m.bodyBytes.WithLabelValues("sendfile")
	m.gathered = m.bodyBytes.WithLabelValues("readwrite")
	reg.MustRegister(m.requests, m.bodyBytes, m.inFlight, m.duration, m.truncations, m.aborted, m.fallbacks, m.connsOpen, m.connsTotal, m.idleReclaimed, m.listingRefused, m.listingBytes)
	return m
}

// newCounter makes a counter without labels.
func newCounter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

// newGauge makes a gauge without labels.
func newGauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}

// observe records one finished response.
func (m *metrics) observe(r *Response) {
	method := r.Method
	switch method {
	case http.MethodGet, http.MethodHead:
	default:
		method = "other"
	}
	if method == http.MethodGet && r.Status == http.StatusOK {
		m.getOK.Inc()
	} else {
		m.requests.WithLabelValues(method, strconv.Itoa(r.Status)).Inc()
	}
	if r.EngineBytes > 0 {
		switch by := r.Send.Method.String(); by {
		case "sendfile":
			m.sendfile.Add(float64(r.EngineBytes))
		case "readwrite":
			m.gathered.Add(float64(r.EngineBytes))
		default:
			m.bodyBytes.WithLabelValues(by).Add(float64(r.EngineBytes))
		}
	}
	if b := r.BodyBytes - r.EngineBytes; b > 0 {
		m.bodyBytes.WithLabelValues(SendBuffered).Add(float64(b))
	}
	m.duration.Observe(r.Duration.Seconds())
	switch r.Outcome {
	case Truncated:
		m.truncations.Inc()
	case Aborted:
		m.aborted.Inc()
	}
	if r.Send.Fallbacks > 0 {
		m.fallbacks.Inc()
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
