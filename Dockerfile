# pforte as a container: a static binary on distroless, run as a non-root
# user, with its SQLite database on a volume. See docs/deploy.md.
#
#   docker build -t pforte .
#   docker run -p 8080:8080 -v pforte-data:/data \
#     -e PFORTE_PUBLIC_URL=https://accounts.example.org -e PFORTE_SECRET=... pforte

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The one build command, shared with CI (.ci/run).
RUN .ci/build /out/pforte
# The volume's mount point, owned by the image's user (distroless nonroot).
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pforte /usr/local/bin/pforte
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV PFORTE_ADDR=:8080 \
    PFORTE_DB=sqlite:/data/pforte.db \
    PFORTE_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
# No shell or curl in the image: the binary asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/pforte", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/pforte"]
CMD ["serve"]
