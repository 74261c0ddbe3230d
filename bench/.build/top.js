const fs=require('fs');
const f=fs.readdirSync('.').filter(f=>f.endsWith('.cpuprofile')).sort().pop();
const p=JSON.parse(fs.readFileSync(f));
const byId=new Map(p.nodes.map(n=>[n.id,n]));
const parent=new Map();for(const n of p.nodes)for(const c of n.children||[])parent.set(c,n.id);
const cnt={};for(const s of p.samples){cnt[s]=(cnt[s]||0)+1}
const self={},incl={};let tot=0;
const key=n=>n.callFrame.functionName+' '+(n.callFrame.url.split('/').pop())+':'+n.callFrame.lineNumber;
for(const [id,c] of Object.entries(cnt)){let n=byId.get(+id);self[key(n)]=(self[key(n)]||0)+c;tot+=c;const seen=new Set();let cur=+id;while(cur!==undefined){const k=key(byId.get(cur));if(!seen.has(k)){incl[k]=(incl[k]||0)+c;seen.add(k)}cur=parent.get(cur)}}
console.log('--- self');Object.entries(self).sort((a,b)=>b[1]-a[1]).slice(0,+process.argv[2]||35).forEach(([k,v])=>console.log((100*v/tot).toFixed(1),k));
console.log('--- inclusive');Object.entries(incl).sort((a,b)=>b[1]-a[1]).slice(0,+process.argv[3]||45).forEach(([k,v])=>console.log((100*v/tot).toFixed(1),k));
