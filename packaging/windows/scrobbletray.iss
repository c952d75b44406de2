; Inno Setup 6 script: a per-user installer for the one-folder build of Scrobble Tray.
;
; Build on Windows, from the repository root, after `pyinstaller --clean --noconfirm build.spec`
; (which makes dist\scrobbletray\ and runs nowhere else):
;
;   iscc /DAppVersion=0.1.0 packaging\windows\scrobbletray.iss
;
; Output: dist\scrobbletray-<version>-windows-x64-setup.exe. Written, not built on Windows
; yet (see packaging/README.md).

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=x.y.z packaging\windows\scrobbletray.iss
#endif

#define AppName "Scrobble Tray"
#define AppExe "scrobbletray.exe"
#define Root "..\.."

[Setup]
; Never change AppId: it is how upgrades and the uninstaller find an installed copy.
AppId={{6A0F3C1E-7B5D-4E8A-9C2F-5D1B8E4A7C30}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppName}
VersionInfoVersion={#AppVersion}
; Per-user by default (no UAC prompt); the user may choose all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#Root}\dist
OutputBaseFilename=scrobbletray-{#AppVersion}-windows-x64-setup
#if FileExists(AddBackslash(SourcePath) + Root + "\resources\app.ico")
SetupIconFile={#Root}\resources\app.ico
#endif
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; A running tray app holds its files open: ask it to close (Restart Manager) before
; replacing them, and do not restart it afterwards (the [Run] entry does that).
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "startup"; Description: "Start {#AppName} when I sign in"; GroupDescription: "Start-up:"
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole one-folder build: scrobbletray.exe and _internal\.
Source: "{#Root}\dist\scrobbletray\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade must not keep libraries that the new version no longer ships.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon
Name: "{userstartup}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: startup

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; The tray app may still be running: end it so that its files can be removed. The user's
; data folder (%LOCALAPPDATA%\scrobbletray) is kept.
Filename: "{sys}\taskkill.exe"; Parameters: "/IM {#AppExe} /F"; Flags: runhidden; RunOnceId: "StopApp"
