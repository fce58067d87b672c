# ocrpool container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#                --build-arg COMMIT=$(git rev-parse --short HEAD) -t ocrpool:dev .
#   (or: make docker)
#
#   docker run -p 8080:8080 -v ocrpool-data:/var/lib/ocrpool/data ocrpool:dev
#
# By default every role runs in one process on :8080 with the embedded SQLite
# (./data, i.e. /var/lib/ocrpool/data) and miniredis. To run one role, set
# OCRPOOL_ROLES (datapool, training or ocr), OCRPOOL_SERVER_ADDR (:5000, :6000,
# :8000), OCRPOOL_DATABASE_URL, OCRPOOL_REDIS_URL and the OCRPOOL_PEERS_*
# variables; or pass the flags: docker run ... ocrpool:dev serve --roles=ocr --migrate

# ---------------------------------------------------------------- builder
FROM golang:1.26-bookworm AS builder

# gosseract is cgo: it needs Tesseract's and Leptonica's headers (the image
# already has gcc and pkg-config).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libtesseract-dev libleptonica-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
ENV CGO_ENABLED=1

# Modules first, as their own layer: it is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN go build -trimpath \
      -ldflags "-X github.com/ocrpool/ocrpool/modules/platform/version.Version=${VERSION} -X github.com/ocrpool/ocrpool/modules/platform/version.Commit=${COMMIT}" \
      -o /out/ocrpool .

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim

# Runtime libraries only: Tesseract and Leptonica shared libraries, the
# English trained data (/usr/share/tesseract-ocr/5/tessdata) and CA certificates.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libtesseract5 liblept5 tesseract-ocr-eng ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 ocrpool \
    && useradd --system --uid 10001 --gid ocrpool --home-dir /var/lib/ocrpool \
         --no-create-home --shell /usr/sbin/nologin ocrpool \
    && mkdir -p /var/lib/ocrpool/data \
    && chown -R ocrpool:ocrpool /var/lib/ocrpool

COPY --from=builder /out/ocrpool /usr/local/bin/ocrpool

USER 10001:10001
WORKDIR /var/lib/ocrpool

# One Tesseract client per core already; OpenMP threads inside each would
# only oversubscribe the CPUs.
ENV OCRPOOL_SERVER_ADDR=:8080 \
    OMP_THREAD_LIMIT=1 \
    OCRPOOL_ROLES=all

# all roles: 8080; split roles: datapool 5000, training 6000, ocr 8000.
EXPOSE 8080 5000 6000 8000

# GETs http://127.0.0.1:<port of OCRPOOL_SERVER_ADDR>/healthz (no curl in the image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/ocrpool", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/ocrpool"]
# The roles come from OCRPOOL_ROLES (default all): a --roles flag here would
# override that variable, as flags beat the environment.
CMD ["serve", "--migrate"]
