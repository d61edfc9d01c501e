import express from 'express';

const { GATEHOUSE_URL, GATEHOUSE_OPERATOR_KEY, PORT = 8080 } = process.env;
const GATEHOUSE_ORIGIN = new URL(GATEHOUSE_URL).origin;
const app = express();

// Your own sign-in runs before this; here one customer stands in for the signed-in req.user.
const user = { id: 'u_123', email: 'ana@trebol.example', name: 'Ana Ruiz', workspace: 'trebol', isAccountAdmin: true };

app.get('/', async (req, res) => {
  const r = await fetch(`${GATEHOUSE_URL}/portal/sessions`, {
    method: 'POST',
    headers: { 'x-api-key': GATEHOUSE_OPERATOR_KEY, 'content-type': 'application/json' }, // the key stays here
    body: JSON.stringify({
      workspace_id: user.workspace,
      user: { id: user.id, email: user.email, name: user.name },
      role: user.isAccountAdmin ? 'admin' : 'read-only',
    }),
  });
  if (r.status !== 201) return res.status(502).send('The API manager is unavailable');
  const { url } = await r.json();
  res.send(`<!doctype html><title>Descriptra · API access</title><h1>API access</h1>
<iframe id="portal" src="${url}" title="API manager" style="width:100%;border:0"></iframe>
<script>
  const frame = document.getElementById('portal');
  addEventListener('message', (e) => {
    if (e.origin !== ${JSON.stringify(GATEHOUSE_ORIGIN)} || e.source !== frame.contentWindow) return;
    if (e.data.type === 'gatehouse:resize') frame.style.height = e.data.height + 'px';
    if (e.data.type === 'gatehouse:session-ended') frame.replaceWith('You left the API manager. Reload to open it again.');
  });
</script>`);
});

app.listen(PORT);
