//! A local HTTP receiver standing in for Slack (or any webhook): it records each request
//! and answers from a script, in order, then with 200 `ok`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One answer of the script.
#[derive(Debug, Clone)]
pub enum Reply {
    Status {
        code: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// 500 whose body repeats the request line (path included), as a careless proxy would.
    EchoError,
    /// Accept, read, and never answer (until the client gives up).
    Hang,
    /// 500 whose body repeats the whole request: line, headers (credentials included), body.
    EchoAll,
}

impl Reply {
    pub fn status(code: u16) -> Self {
        Self::Status {
            code,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::Status {
            code: 429,
            headers: vec![("Retry-After", retry_after_secs.to_string())],
            body: "rate_limited".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let script = Arc::new(Mutex::new(script.into_iter()));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                let script = script.clone();
                std::thread::spawn(move || serve(stream, &log, &script));
            }
        });
        Self { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Received>>, script: &Mutex<std::vec::IntoIter<Reply>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut length = 0usize;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if name == "content-length" {
                length = value.trim().parse().unwrap_or(0);
            }
            headers.push((name, value.trim().to_string()));
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    log.lock().expect("lock").push(Received {
        at: Instant::now(),
        method,
        path,
        headers: headers.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let reply = script.lock().expect("lock").next();
    let (code, headers, body) = match reply {
        Some(Reply::Hang) => {
            std::thread::sleep(Duration::from_secs(30));
            return;
        }
        Some(Reply::EchoAll) => (
            500,
            Vec::new(),
            format!(
                "cannot handle {request_line}{}\n\n{}",
                headers
                    .iter()
                    .map(|(n, v)| format!("{n}: {v}\n"))
                    .collect::<String>(),
                String::from_utf8_lossy(&body)
            ),
        ),
        Some(Reply::EchoError) => (
            500,
            Vec::new(),
            format!("upstream failed for {request_line}"),
        ),
        Some(Reply::Status {
            code,
            headers,
            body,
        }) => (code, headers, body),
        None => (200, Vec::new(), "ok".to_string()),
    };
    let mut response = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&body);
    let mut stream = stream;
    let _ = stream.write_all(response.as_bytes());
}
