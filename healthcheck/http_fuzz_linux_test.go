package healthcheck

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"io"
	"net/http"
	"strings"
	"testing"
)

// reference is what net/http makes of an answer to a GET, as the checks
// on net/http's client judge it: the Transport reads past informational
// answers (but 101), the status must be in 200..299, and with a digest
// the whole body must be read without error. body is what it read.
// ambiguous is set when net/http refused only the trailer after the last
// chunk: it peeks ahead in its buffer for the trailer's end (a bare LF
// at the very end of the stream, or no CRLFCRLF within 4 KiB), so its
// verdict there depends on its buffering, not on the bytes' meaning.
func reference(data []byte, withBody bool) (up bool, body []byte, ambiguous bool) {
	br := bufio.NewReader(bytes.NewReader(data))
	req, _ := http.NewRequest(http.MethodGet, "http://probe/", nil)
	var resp *http.Response
	for {
		var err error
		if resp, err = http.ReadResponse(br, req); err != nil {
			return false, nil, false
		}
		if resp.StatusCode >= 100 && resp.StatusCode <= 199 && resp.StatusCode != 101 {
			continue
		}
		break
	}
	if !statusOK(resp.StatusCode, []StatusRange{{Min: 200, Max: 299}}) {
		return false, nil, false
	}
	if !withBody {
		return true, nil, false
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, nil, strings.Contains(err.Error(), "trailer")
	}
	return true, b, false
}

// FuzzResponseDifferential holds the raw HTTP/1.1 response parser of the
// polled http checks (respParser) to net/http's ReadResponse on the same
// bytes: the same verdict, up or down, on any answer a server can send,
// fed in two pieces split anywhere; with a digest too, whose expected sum
// is that of the body net/http read. Its crashers (testdata) are the
// differences it found and that were fixed: header names and values
// net/textproto refuses, HTTP/X.Y versions, folded lines, a line of lone
// CRs, chunked trailers. Where net/http refuses only the trailer (see
// reference), either verdict is accepted.
func FuzzResponseDifferential(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nbody to EOF",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"",
	} {
		f.Add([]byte(s), uint16(7), false)
		f.Add([]byte(s), uint16(100), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16, digest bool) {
		if len(data) > 32<<10 {
			return
		}
		want, body, ambiguous := reference(data, digest)
		if ambiguous {
			return
		}
		c := &httpChecker{status: []StatusRange{{Min: 200, Max: 299}}}
		if digest {
			c.newHash = md5.New
			sum := md5.Sum(body)
			c.digest = Digest{Algorithm: "md5", Sum: sum[:]}
		}
		var r respParser
		r.c = c
		k := int(split) % (len(data) + 1)
		done, err := r.feed(data[:k])
		if !done {
			done, err = r.feed(data[k:])
		}
		if !done {
			err = r.eof()
		}
		if got := err == nil; got != want {
			t.Errorf("raw parser says up=%v (%v), net/http up=%v, on %q (split at %d, digest %v)", got, err, want, data, k, digest)
		}
	})
}
