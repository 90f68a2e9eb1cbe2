package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/ticketing"
)

// Each fake robot below checks a request the way its vendor documents it,
// written independently of the sender's code, and answers as the vendor
// does: errcode/code 0 when it is right, the vendor's error otherwise.

type received struct {
	mu   sync.Mutex
	msgs []string
}

func (r *received) add(s string) { r.mu.Lock(); r.msgs = append(r.msgs, s); r.mu.Unlock() }

func wecomServer(t *testing.T, key string, got *received) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/cgi-bin/webhook/send" || req.URL.Query().Get("key") != key {
			json.NewEncoder(w).Encode(map[string]any{"errcode": 93000, "errmsg": "invalid webhook url"})
			return
		}
		var body struct {
			MsgType  string `json:"msgtype"`
			Markdown struct {
				Content string `json:"content"`
			} `json:"markdown"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil || body.MsgType != "markdown" || body.Markdown.Content == "" ||
			len(body.Markdown.Content) > 4096 {
			json.NewEncoder(w).Encode(map[string]any{"errcode": 40008, "errmsg": "invalid message type"})
			return
		}
		got.add(body.Markdown.Content)
		json.NewEncoder(w).Encode(map[string]any{"errcode": 0, "errmsg": "ok"})
	}))
}

func dingtalkServer(t *testing.T, token, secret string, got *received) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		if req.URL.Path != "/robot/send" || q.Get("access_token") != token {
			json.NewEncoder(w).Encode(map[string]any{"errcode": 300001, "errmsg": "token is not exist"})
			return
		}
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || time.Since(time.UnixMilli(ts)).Abs() > time.Hour {
			json.NewEncoder(w).Encode(map[string]any{"errcode": 310000, "errmsg": "invalid timestamp"})
			return
		}
		mac := hmac.New(sha256.New, []byte(secret))
		io.WriteString(mac, q.Get("timestamp")+"\n"+secret)
		// The query parser already URL-decoded sign.
		if !hmac.Equal([]byte(q.Get("sign")), []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))) {
			json.NewEncoder(w).Encode(map[string]any{"errcode": 310000, "errmsg": "sign not match"})
			return
		}
		var body struct {
			MsgType  string `json:"msgtype"`
			Markdown struct {
				Title string `json:"title"`
				Text  string `json:"text"`
			} `json:"markdown"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil || body.MsgType != "markdown" || body.Markdown.Title == "" || body.Markdown.Text == "" {
			json.NewEncoder(w).Encode(map[string]any{"errcode": 40035, "errmsg": "缺少参数 json"})
			return
		}
		got.add(body.Markdown.Text)
		json.NewEncoder(w).Encode(map[string]any{"errcode": 0, "errmsg": "ok"})
	}))
}

func feishuServer(t *testing.T, hook, secret string, got *received) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/open-apis/bot/v2/hook/"+hook {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"code": 19001, "msg": "param invalid: incoming webhook access token invalid"})
			return
		}
		var body struct {
			Timestamp string `json:"timestamp"`
			Sign      string `json:"sign"`
			MsgType   string `json:"msg_type"`
			Content   struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			json.NewEncoder(w).Encode(map[string]any{"code": 9499, "msg": "Bad Request"})
			return
		}
		ts, err := strconv.ParseInt(body.Timestamp, 10, 64)
		mac := hmac.New(sha256.New, []byte(body.Timestamp+"\n"+secret))
		if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Hour ||
			!hmac.Equal([]byte(body.Sign), []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))) {
			json.NewEncoder(w).Encode(map[string]any{"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"})
			return
		}
		if body.MsgType != "text" || body.Content.Text == "" {
			json.NewEncoder(w).Encode(map[string]any{"code": 19002, "msg": "params error, msg_type need"})
			return
		}
		got.add(body.Content.Text)
		json.NewEncoder(w).Encode(map[string]any{"code": 0, "msg": "success", "data": map[string]any{}})
	}))
}

func robotJob(t *testing.T, vendor string) *ticketing.Job {
	spec, err := RobotJob(7, RobotMessage{Vendor: vendor, Title: "SLA 超时升级：HL-20261127-0001", Text: "工单已升级到第 2 线（二线支持）"})
	if err != nil {
		t.Fatal(err)
	}
	return &ticketing.Job{ID: 1, Kind: spec.Kind, TicketID: 7, Args: spec.Args, Attempt: 1, MaxAttempts: spec.MaxAttempts}
}

func TestRobotsFollowTheVendorFormats(t *testing.T) {
	var wecom, ding, feishu received
	ws := wecomServer(t, "wk-123", &wecom)
	defer ws.Close()
	ds := dingtalkServer(t, "dt-456", "SECdingsecret", &ding)
	defer ds.Close()
	fs := feishuServer(t, "fs-789", "feishusecret", &feishu)
	defer fs.Close()

	good := NewRobots([]Robot{
		{Vendor: WeCom, URL: ws.URL + "/cgi-bin/webhook/send?key=wk-123", Enabled: true},
		{Vendor: DingTalk, URL: ds.URL + "/robot/send?access_token=dt-456", Secret: "SECdingsecret", Enabled: true},
		{Vendor: Feishu, URL: fs.URL + "/open-apis/bot/v2/hook/fs-789", Secret: "feishusecret", Enabled: true},
	}, ws.Client(), nil, nil)
	for _, v := range []string{WeCom, DingTalk, Feishu} {
		if err := good.Work(context.Background(), robotJob(t, v)); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	for name, r := range map[string]*received{"wecom": &wecom, "dingtalk": &ding, "feishu": &feishu} {
		if len(r.msgs) != 1 || !containsAll(r.msgs[0], "HL-20261127-0001", "二线支持") {
			t.Errorf("%s received %q", name, r.msgs)
		}
	}

	// A wrong secret is refused by the robot, for good (no retries).
	bad := NewRobots([]Robot{
		{Vendor: DingTalk, URL: ds.URL + "/robot/send?access_token=dt-456", Secret: "SECwrong", Enabled: true},
		{Vendor: Feishu, URL: fs.URL + "/open-apis/bot/v2/hook/fs-789", Secret: "wrong", Enabled: true},
		{Vendor: WeCom, URL: ws.URL + "/cgi-bin/webhook/send?key=wrong", Enabled: true},
	}, ws.Client(), nil, nil)
	for _, v := range []string{WeCom, DingTalk, Feishu} {
		err := bad.Work(context.Background(), robotJob(t, v))
		var ve *VendorError
		if !errors.As(err, &ve) || ve.Temporary() || !isPermanent(err) {
			t.Errorf("%s with a bad secret or key: %v, want a permanent vendor error", v, err)
		}
	}
	if len(ding.msgs) != 1 || len(feishu.msgs) != 1 || len(wecom.msgs) != 1 {
		t.Error("a message with a bad signature was accepted")
	}
}

func TestRobotRetriesServerErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	r := NewRobots([]Robot{{Vendor: WeCom, URL: srv.URL + "/?key=x", Enabled: true}}, srv.Client(), nil, nil)
	err := r.Work(context.Background(), robotJob(t, WeCom))
	if err == nil || isPermanent(err) {
		t.Fatalf("a 502 must be retried: %v", err)
	}
}

func isPermanent(err error) bool {
	// jobs.Permanent wraps in a type of its own; a retried error is the
	// vendor error itself.
	var ve *VendorError
	return errors.As(err, &ve) && err != error(ve)
}

var _ jobs.Handler = (*Robots)(nil)

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
