package memtrim

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

var sink []byte

func TestHandlerTrimsAfterBigAnswers(t *testing.T) {
	calls := make(chan struct{}, 10)
	old := trim
	trim = func() { calls <- struct{}{} }
	defer func() { trim = old }()
	serve := func(size int, forceGC bool) {
		h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sink = make([]byte, size) // what a big status document costs
			sink = nil
			if forceGC { // as a reload trims after itself
				runtime.GC()
			}
			w.Write([]byte("ok"))
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Body.String() != "ok" {
			t.Fatalf("answer %q, want ok", rec.Body.String())
		}
	}
	serve(1<<10, false)
	serve(2*Threshold, true)
	select {
	case <-calls:
		t.Fatal("trimmed after a 1 KiB answer, or after a request that collected itself")
	case <-time.After(100 * time.Millisecond):
	}
	serve(2*Threshold, false)
	select {
	case <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("no trim after an answer that allocated twice the threshold")
	}
	for trimming.Load() { // the trim's goroutine ends
		time.Sleep(time.Millisecond)
	}
}
