# The thumbnail function's image, for `fn build` or `make image`.
# Stage 1 builds the static binary with the Makefile's own command.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The checkout's revision, stamped into the binary: .git is not copied in.
ARG REVISION=unknown
RUN make build REVISION=$REVISION

# Stage 2: nothing but the binary, CA certificates for HTTPS endpoints and
# a non-root user.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /src/bin/iron_thumbs /iron_thumbs
USER 65534:65534
ENTRYPOINT ["/iron_thumbs"]
