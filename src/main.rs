use yoom::config::{HELP, Settings};
use yoom::startup::{Application, tune_allocator};

fn main() -> std::process::ExitCode {
    tune_allocator();
    serve()
}

#[actix_web::main]
async fn serve() -> std::process::ExitCode {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return std::process::ExitCode::SUCCESS;
    }
    yoom::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("yoom: configuration error: {e}\n(run `yoom --help` for the variables)");
            return std::process::ExitCode::from(2);
        }
    };
    match Application::build(settings).await {
        Ok(app) => match app.run_until_signalled().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = ?e, "server stopped with an error");
                std::process::ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("yoom: cannot start: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
