package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"pforte/internal/api/native"
)

// Every exchange a harness has with the native API (/api/v1/) is checked
// against native's OpenAPI document, so that the document cannot drift
// from what the server does. Responses are always validated, problems
// included. Requests are validated only when the server accepted them
// (2xx): tests send malformed requests on purpose, and the server's
// refusal of them is checked on the response side.

// OpenAPI is native's OpenAPI document as kin-openapi loads it, with a
// router over its operations.
type OpenAPI struct {
	Doc      *openapi3.T
	router   routers.Router
	fallback *openapi3.Operation // the answers of paths and methods that are no operation
}

var (
	openAPIOnce sync.Once
	openAPIDoc  *OpenAPI
	openAPIErr  error
)

// LoadOpenAPI loads and validates native's OpenAPI document, once per
// test binary.
func LoadOpenAPI() (*OpenAPI, error) {
	openAPIOnce.Do(func() { openAPIDoc, openAPIErr = loadOpenAPI(native.Document()) })
	return openAPIDoc, openAPIErr
}

func loadOpenAPI(data []byte) (*OpenAPI, error) {
	// The import's bodies are text, one customer per line, which the
	// document describes as strings.
	for _, mt := range []string{"text/csv", "application/x-ndjson", "application/jsonl"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.PlainBodyDecoder)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	fallback := openapi3.NewOperation()
	fallback.Responses = openapi3.NewResponses()
	for status, name := range map[string]string{"404": "NotFound", "405": "MethodNotAllowed"} {
		res := doc.Components.Responses[name]
		if res == nil {
			return nil, fmt.Errorf("no response %s in components", name)
		}
		fallback.Responses.Set(status, res)
	}
	return &OpenAPI{Doc: doc, router: router, fallback: fallback}, nil
}

// Validate checks one exchange with the native API: the request (with
// its body) when status is 2xx, and the response always. Other paths
// and CORS preflights, which the server answers for every API, pass.
func (o *OpenAPI) Validate(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") ||
		(req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "") {
		return nil
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: authenticate}
	in := &openapi3filter.RequestValidationInput{Request: req, Options: opts}
	route, params, err := o.router.FindRoute(req)
	var routeErr *routers.RouteError
	switch {
	case errors.As(err, &routeErr) && (routeErr.Reason == routers.ErrPathNotFound.Error() ||
		routeErr.Reason == routers.ErrMethodNotAllowed.Error()):
		// No operation: the answer must be the API's 404 or 405.
		in.Route = &routers.Route{Spec: o.Doc, Path: req.URL.Path, Method: req.Method, Operation: o.fallback}
	case err != nil:
		return fmt.Errorf("openapi: %s %s: %w", req.Method, req.URL.Path, err)
	default:
		in.Route, in.PathParams = route, params
		if status >= 200 && status < 300 {
			req.Body = io.NopCloser(bytes.NewReader(reqBody))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				return fmt.Errorf("openapi: request %s %s (answered %d): %w", req.Method, req.URL.Path, status, err)
			}
		}
	}
	res := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, res.SetBodyBytes(body)); err != nil {
		return fmt.Errorf("openapi: response %s %s %d: %w\nbody: %s", req.Method, req.URL.Path, status, err, bytes.TrimSpace(body))
	}
	return nil
}

// keyPrefixes tell the document's two kinds of API key apart: both come
// in X-API-KEY.
var keyPrefixes = map[string]string{"publicKey": "pk_", "secretKey": "sk_"}

// authenticate checks that a request accepted by the server carried the
// credentials its operation names; whether they were valid is the
// server's to say.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r, scheme := in.RequestValidationInput.Request, in.SecurityScheme
	switch {
	case scheme.Type == "apiKey" && scheme.In == "header":
		if key := r.Header.Get(scheme.Name); key != "" && strings.HasPrefix(key, keyPrefixes[in.SecuritySchemeName]) {
			return nil
		}
	case scheme.Type == "http" && scheme.Scheme == "bearer":
		if s, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(s, "Bearer") && token != "" {
			return nil
		}
	}
	return in.NewError(nil)
}
