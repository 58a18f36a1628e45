package sandbox

import (
	"encoding/json"
	"net/http"
)

// errorShape selects which of the platform's error body formats a route answers with.
// The Customer Service and Customer Management disagree on the shape (digest §6), and the
// gateway in front of both answers 401s (and, in the sandbox, rate-limit and fault 429/503s)
// in its own fault format.
type errorShape int

const (
	// shapeCustomer is the Customer Service ErrorMessage: {status, type, message, moreInfo, details[{field,type,message}]}.
	shapeCustomer errorShape = iota
	// shapeManagement is the Customer Management errorMessage: {code, status, message, resourceId, details[string]}.
	shapeManagement
)

// fieldProblem is one cause of a validation failure, rendered as a details entry.
type fieldProblem struct {
	Field   string
	Type    string
	Message string
}

// apiError is an error answer a handler wants sent; handlers return it instead of writing directly
// so the route decides the body shape.
type apiError struct {
	Status     int
	Type       string // Customer Service `type`, lowercase with underscores
	Message    string
	ResourceID string
	Details    []fieldProblem
}

func (e *apiError) Error() string { return e.Message }

func newError(status int, typ, msg string, details ...fieldProblem) *apiError {
	return &apiError{Status: status, Type: typ, Message: msg, Details: details}
}

func badRequest(msg string, details ...fieldProblem) *apiError {
	return newError(http.StatusBadRequest, "bad_request", msg, details...)
}

func validationError(details ...fieldProblem) *apiError {
	msg := "Validation failed."
	if len(details) == 1 {
		msg = details[0].Message
	}
	return newError(http.StatusBadRequest, "validation_failure", msg, details...)
}

func conflict(msg string) *apiError {
	return newError(http.StatusConflict, "conflict_resource", msg)
}

func notFound(msg string, details ...fieldProblem) *apiError {
	return newError(http.StatusNotFound, "resource_not_found", msg, details...)
}

// staleVersion is the optimistic-locking failure. No customer spec documents it; 409 is the platform
// convention of the sibling services (digest §6.4).
func staleVersion(current int) *apiError {
	return conflict("Optimistic locking failed: the metadata.version sent is outdated (current version is " + itoa(current) + ").")
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

// writeError renders e in the given service shape.
func writeError(w http.ResponseWriter, shape errorShape, e *apiError) {
	switch shape {
	case shapeManagement:
		body := map[string]any{"code": e.Status, "status": http.StatusText(e.Status), "message": e.Message}
		if e.ResourceID != "" {
			body["resourceId"] = e.ResourceID
		}
		if len(e.Details) > 0 {
			details := make([]string, 0, len(e.Details))
			for _, d := range e.Details {
				if d.Field != "" {
					details = append(details, d.Field+": "+d.Message)
				} else {
					details = append(details, d.Message)
				}
			}
			body["details"] = details
		}
		writeJSON(w, e.Status, body)
	default:
		typ := e.Type
		if typ == "" {
			typ = "bad_request"
		}
		body := map[string]any{"status": e.Status, "type": typ, "message": e.Message}
		if len(e.Details) > 0 {
			details := make([]map[string]any, 0, len(e.Details))
			for _, d := range e.Details {
				item := map[string]any{"message": d.Message}
				if d.Field != "" {
					item["field"] = d.Field
				}
				if d.Type != "" {
					item["type"] = d.Type
				}
				details = append(details, item)
			}
			body["details"] = details
		}
		writeJSON(w, e.Status, body)
	}
}

// writeFault renders the API gateway's fault body, used for 401 on every service and for the
// sandbox's gateway-level 429/503 answers.
func writeFault(w http.ResponseWriter, status int, faultString, errorCode string) {
	writeJSON(w, status, map[string]any{
		"fault": map[string]any{
			"faultstring": faultString,
			"detail":      map[string]any{"errorcode": errorCode},
		},
	})
}
