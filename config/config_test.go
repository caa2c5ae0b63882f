package config

import (
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.ImageBucket != "images" || c.ThumbBucket != "thumbs" || c.S3Region != "us-east-1" ||
		!c.Cache || c.MaxWidth != 2048 || c.CallTimeout != 10*time.Second ||
		c.MaxSourceBytes != 50<<20 || c.MaxSourcePixels != 50_000_000 {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.CheckS3(); err == nil || !strings.Contains(err.Error(), "S3_ACCESS_KEY and S3_SECRET_KEY") {
		t.Errorf("CheckS3 without settings = %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	c, err := FromEnv(env("IMAGE_BUCKET", "orig", "THUMB_BUCKET", "th", "S3_ENDPOINT", "http://127.0.0.1:9000",
		"S3_ACCESS_KEY", "ak", "S3_SECRET_KEY", "sk", "THUMB_CACHE", "off", "THUMB_MAX_SIZE", "1024",
		"THUMB_SIZES", "360, 90,180,90", "CALL_TIMEOUT", "5s", "MAX_SOURCE_BYTES", "1_000_000"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ImageBucket != "orig" || c.ThumbBucket != "th" || c.Cache || c.MaxWidth != 1024 ||
		c.CallTimeout != 5*time.Second || c.MaxSourceBytes != 1_000_000 || len(c.Sizes) != 3 || c.Sizes[0] != 90 {
		t.Errorf("got %+v", c)
	}
	if err := c.CheckS3(); err != nil {
		t.Error(err)
	}
}

func TestInvalid(t *testing.T) {
	cases := [][]string{
		{"THUMB_CACHE", "maybe"},
		{"THUMB_MAX_SIZE", "-1"},
		{"THUMB_MAX_SIZE", "big"},
		{"CALL_TIMEOUT", "10"},
		{"CALL_TIMEOUT", "1h"},
		{"THUMB_SIZES", "90,abc"},
		{"THUMB_SIZES", "4096"},
		{"JPEG_QUALITY", "101"},
		{"MAX_SOURCE_PIXELS", "0"},
	}
	for _, c := range cases {
		_, err := FromEnv(env(c...))
		if err == nil || !strings.Contains(err.Error(), c[0]) {
			t.Errorf("%s=%s: err = %v, want one naming the variable", c[0], c[1], err)
		}
	}
	c, _ := FromEnv(env("S3_ACCESS_KEY", "a", "S3_SECRET_KEY", "b", "S3_ENDPOINT", "127.0.0.1:9000"))
	if err := c.CheckS3(); err == nil {
		t.Error("an endpoint without a scheme passed")
	}
}
