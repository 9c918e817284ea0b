package server

import (
	"net/http"
	"slices"
	"strings"
)

// methodRefuser is an API that answers a method a path does not take in
// its own error format.
type methodRefuser interface {
	NotAllowed(allow ...string) http.Handler
}

// router puts routes on a ServeMux and remembers, for each path, the
// methods it takes and the API it belongs to, so that every other method
// gets that API's 405 with an Allow header.
type router struct {
	mux      *http.ServeMux
	paths    []string
	methods  map[string][]string
	apis     map[string]methodRefuser
	selfCORS []string // path prefixes whose API answers CORS itself
}

func newRouter(mux *http.ServeMux) *router {
	return &router{mux: mux, methods: map[string][]string{}, apis: map[string]methodRefuser{}}
}

// handle routes "METHOD /path" of api to h.
func (rt *router) handle(api methodRefuser, pattern string, h http.Handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		panic("route without a method: " + pattern)
	}
	rt.mux.Handle(pattern, h)
	if _, seen := rt.methods[path]; !seen {
		rt.paths = append(rt.paths, path)
		rt.apis[path] = api
	}
	rt.methods[path] = append(rt.methods[path], method)
}

// handleAny routes a pattern whose handler answers every method itself
// (a catch-all, or an API that decides its 404 and 405 per tenant).
func (rt *router) handleAny(pattern string, h http.Handler) { rt.mux.Handle(pattern, h) }

// answersCORS notes that the API under prefix answers CORS itself, so the
// server's CORS middleware leaves it alone.
func (rt *router) answersCORS(prefix string) { rt.selfCORS = append(rt.selfCORS, prefix) }

// refuseOtherMethods routes each path's other methods to its API's 405.
// A path that overlaps another's wildcard (/customers/import and
// /customers/{ref}) cannot take every method at once, which ServeMux
// refuses as a conflict: it refuses the common methods one by one.
func (rt *router) refuseOtherMethods() {
	for _, path := range rt.paths {
		refuse := rt.apis[path].NotAllowed(rt.methods[path]...)
		if !rt.overlaps(path) {
			rt.mux.Handle(path, refuse)
			continue
		}
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			taken := slices.Contains(rt.methods[path], m) || m == "HEAD" && slices.Contains(rt.methods[path], "GET")
			if !taken {
				rt.mux.Handle(m+" "+path, refuse)
			}
		}
	}
}

// overlaps reports whether another path matches some of path's requests:
// segment by segment equal, or one of the two a wildcard.
func (rt *router) overlaps(path string) bool {
	segs := strings.Split(path, "/")
	wild := func(s string) bool { return strings.HasPrefix(s, "{") }
	for _, other := range rt.paths {
		o := strings.Split(other, "/")
		if other == path || len(o) != len(segs) {
			continue
		}
		same := true
		for i := range segs {
			same = same && (segs[i] == o[i] || wild(segs[i]) || wild(o[i]))
		}
		if same {
			return true
		}
	}
	return false
}
