# sf-image-gateway on the official Deno image. Build: docker build -t sf-image-gateway .
# Run:   docker run -p 8000:8000 -v sf-data:/app/data --env-file .env \
#          --ulimit nofile=65536:65536 sf-image-gateway
FROM denoland/deno:2.9.6

WORKDIR /app

# Dependencies first: this layer stays cached until deno.json or deno.lock change. They hold the
# server's packages only; the test tools are in tests/deno.jsonc and tests/deno.lock, not copied.
COPY deno.json deno.lock ./
RUN deno install --frozen

COPY main.ts ./
COPY lib ./lib
# Cache the program itself, so the container starts without fetching anything.
RUN deno cache --frozen main.ts

# The image's own unprivileged user (uid 1993) owns the KV directory and nothing else. It is also
# writable by other users (sticky, like /tmp), for hosts that run containers under their own uid
# (Hugging Face Spaces: 1000).
RUN mkdir -p /app/data && chown deno:deno /app/data && chmod 1777 /app/data
USER deno
VOLUME /app/data

ENV HOST=0.0.0.0 PORT=8000 DENO_NO_UPDATE_CHECK=1
EXPOSE 8000

# /health answers 200 while KV answers, 503 when it does not.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('PORT') ?? 8000}/health`); Deno.exit(r.ok ? 0 : 1)"]

# The same permissions as `deno task start`: network, environment, and the KV directory.
CMD ["run", "-N", "-E", "-R=./data,.env,./lib", "-W=./data", "main.ts"]
