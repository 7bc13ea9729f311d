# The OpenTelemetry Collector as compose runs it: the pinned contrib image plus one static
# busybox, for the healthcheck alone. The contrib image is built FROM scratch (no shell, no
# HTTP client), so nothing inside could ask the health_check extension on 13133 otherwise.
# Both tags come from .env (OTEL_COLLECTOR_IMAGE, BUSYBOX_IMAGE) through compose's build args.
ARG OTEL_COLLECTOR_IMAGE=otel/opentelemetry-collector-contrib:0.91.0
ARG BUSYBOX_IMAGE=busybox:1.36.1-musl

# The musl build of busybox is statically linked: it runs without any library in the image.
FROM ${BUSYBOX_IMAGE} AS probe

FROM ${OTEL_COLLECTOR_IMAGE}
COPY --from=probe /bin/busybox /usr/local/bin/busybox
HEALTHCHECK --interval=10s --timeout=5s --retries=5 \
    CMD ["/usr/local/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:13133/"]
