// Command naive is the thumbnail function a first attempt would be, kept
// only as the baseline of the bench's cold-call comparison (`make bench`,
// bench/cpu.go). Called as IronFunctions calls a cold function, it reads
// filename and size from REQUEST_URL's query, answers the thumbnail from
// the thumbs bucket (key SIZE/FILENAME) when it is there, and otherwise
// fetches the original, decodes it whole with image/png, resizes it with
// imaging's Lanczos filter, encodes it with image/png, stores it and
// answers it. No limits, no streaming, no hot format: not for production.
//
// It reaches S3 with the settings iron_thumbs uses (S3_ENDPOINT,
// path-style addressing, static credentials, checksums only where the API
// requires them), so the two differ in their work, not their connection.
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/url"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/disintegration/imaging"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	// REQUEST_URL has no colon after its scheme; only its query matters.
	u, err := url.Parse(getenv("REQUEST_URL"))
	if err != nil {
		return err
	}
	q := u.Query()
	filename := q.Get("filename")
	size, err := strconv.Atoi(q.Get("size"))
	if filename == "" || err != nil || size < 1 || size > 2048 {
		return fmt.Errorf("want ?filename=NAME&size=1..2048, got %q", u.RawQuery)
	}
	opts := s3.Options{
		Region:                     cmp.Or(getenv("S3_REGION"), "us-east-1"),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(getenv("S3_ACCESS_KEY"), getenv("S3_SECRET_KEY"), ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if ep := getenv("S3_ENDPOINT"); ep != "" {
		opts.BaseEndpoint = aws.String(ep)
	}
	client := s3.New(opts)
	images := cmp.Or(getenv("IMAGE_BUCKET"), "images")
	thumbs := cmp.Or(getenv("THUMB_BUCKET"), "thumbs")
	key := strconv.Itoa(size) + "/" + filename

	thumb, err := get(ctx, client, thumbs, key)
	if err == nil {
		fmt.Fprintf(os.Stderr, "naive: hit %s\n", key)
		_, err = stdout.Write(thumb)
		return err
	}
	if _, missing := errors.AsType[*types.NoSuchKey](err); !missing {
		return err
	}
	src, err := get(ctx, client, images, filename)
	if err != nil {
		return err
	}
	img, err := png.Decode(bytes.NewReader(src))
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := png.Encode(&out, imaging.Resize(img, size, 0, imaging.Lanczos)); err != nil {
		return err
	}
	_, err = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(thumbs),
		Key:         aws.String(key),
		Body:        bytes.NewReader(out.Bytes()),
		ContentType: aws.String("image/png"),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "naive: miss %s, %d bytes\n", key, out.Len())
	_, err = stdout.Write(out.Bytes())
	return err
}

// get reads a whole object.
func get(ctx context.Context, client *s3.Client, bucket, key string) ([]byte, error) {
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	return io.ReadAll(obj.Body)
}
