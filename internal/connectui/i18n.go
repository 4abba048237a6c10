package connectui

import (
	"sort"
	"strconv"
	"strings"
)

// Languages the Connect UI speaks. Provider texts (titles, descriptions) come
// from the catalogue and stay in English.
var languages = []string{"en", "fr", "de", "es", "ja"}

// messages holds every string the UI shows, per language. English is complete;
// a missing translation falls back to it.
var messages = map[string]map[string]string{
	"en": {
		"page_title":              "Connect an account",
		"loading":                 "Loading…",
		"close":                   "Close",
		"back":                    "Back",
		"choose_title":            "Choose what to connect",
		"choose_body":             "Pick the service you want to link.",
		"form_body":               "Fill in the details below. They are checked with {provider} before anything is saved.",
		"expiry_label":            "Token expiry date",
		"expiry_help":             "The date you picked when you created the token. We remind the app before it stops working.",
		"form_title":              "Connect {provider}",
		"reconnect_title":         "Update {provider} credentials",
		"reconnect_body":          "Enter a new API token to restore the connection. The other details are filled in from the existing connection.",
		"required":                "required",
		"optional":                "optional",
		"how_find":                "How do I find this?",
		"show_secret":             "Show",
		"hide_secret":             "Hide",
		"show_secret_label":       "Show {field}",
		"hide_secret_label":       "Hide {field}",
		"submit":                  "Connect",
		"submit_reconnect":        "Update credentials",
		"busy":                    "Checking with {provider}…",
		"guide_link":              "Step-by-step guide",
		"success_title":           "Connected",
		"success_updated":         "Credentials updated",
		"success_body":            "Your {provider} account is linked.",
		"success_account":         "Account",
		"success_cloud":           "Cloud ID",
		"success_site":            "Site",
		"close_window":            "You can close this window now.",
		"done":                    "Done",
		"expired_title":           "This link has expired",
		"expired_body":            "Links to connect an account are valid for 30 minutes. Ask the app that sent you here for a new one.",
		"missing_title":           "This link is incomplete",
		"missing_body":            "Open the full link you were given, or ask the app that sent you here for a new one.",
		"none_title":              "Nothing to connect",
		"none_body":               "No integration is available for this link.",
		"err_required":            "{field} is required.",
		"err_uuid":                "{field} must be a UUID, like {example}.",
		"err_uuid_plain":          "{field} must be a UUID (8-4-4-4-12 hexadecimal characters).",
		"err_date":                "{field} must be a date between today and a year from now.",
		"err_email":               "{field} must be an email address.",
		"err_hostname":            "{field} must be a host name, without https:// or a path.",
		"err_uri":                 "{field} must be a full URL.",
		"err_pattern":             "{field} is not in the expected format.",
		"err_pattern_secret":      "{field} is not in the expected format. Copy the whole value again; it may have been cut short.",
		"err_fix_fields":          "Please correct the highlighted fields.",
		"err_invalid_credentials": "{provider} did not accept this email and API token. Check that the whole token was copied, that it belongs to this account, and that it has not expired or been revoked.",
		"err_token_field":         "Check this token.",
		"err_unknown_cloud":       "{provider} has no site with this Cloud ID.",
		"err_unavailable":         "{provider} could not be reached to check these details. Nothing was saved; please try again in a few minutes.",
		"err_rate_limited":        "Too many attempts. Wait {seconds} seconds, then try again.",
		"err_generic":             "Something went wrong. Please try again.",
		"warn_title":              "Connected, with a note",
		"retry":                   "Try again",
	},
	"fr": {
		"page_title":              "Connecter un compte",
		"loading":                 "Chargement…",
		"close":                   "Fermer",
		"back":                    "Retour",
		"choose_title":            "Choisissez ce que vous voulez connecter",
		"choose_body":             "Sélectionnez le service à relier.",
		"form_body":               "Remplissez les champs ci-dessous. Ils sont vérifiés auprès de {provider} avant tout enregistrement.",
		"expiry_label":            "Date d’expiration du jeton",
		"expiry_help":             "La date choisie lors de la création du jeton. L’application est prévenue avant qu’il ne cesse de fonctionner.",
		"form_title":              "Connecter {provider}",
		"reconnect_title":         "Mettre à jour les identifiants {provider}",
		"reconnect_body":          "Saisissez un nouveau jeton d’API pour rétablir la connexion. Les autres informations sont reprises de la connexion existante.",
		"required":                "obligatoire",
		"optional":                "facultatif",
		"how_find":                "Où trouver cette information ?",
		"show_secret":             "Afficher",
		"hide_secret":             "Masquer",
		"show_secret_label":       "Afficher {field}",
		"hide_secret_label":       "Masquer {field}",
		"submit":                  "Connecter",
		"submit_reconnect":        "Mettre à jour les identifiants",
		"busy":                    "Vérification auprès de {provider}…",
		"guide_link":              "Guide pas à pas",
		"success_title":           "Connecté",
		"success_updated":         "Identifiants mis à jour",
		"success_body":            "Votre compte {provider} est relié.",
		"success_account":         "Compte",
		"success_cloud":           "Cloud ID",
		"success_site":            "Site",
		"close_window":            "Vous pouvez fermer cette fenêtre.",
		"done":                    "Terminé",
		"expired_title":           "Ce lien a expiré",
		"expired_body":            "Les liens de connexion sont valables 30 minutes. Demandez-en un nouveau à l’application qui vous a envoyé ici.",
		"missing_title":           "Ce lien est incomplet",
		"missing_body":            "Ouvrez le lien complet qui vous a été donné, ou demandez-en un nouveau.",
		"none_title":              "Rien à connecter",
		"none_body":               "Aucune intégration n’est disponible pour ce lien.",
		"err_required":            "{field} est obligatoire.",
		"err_uuid":                "{field} doit être un UUID, par exemple {example}.",
		"err_uuid_plain":          "{field} doit être un UUID (8-4-4-4-12 caractères hexadécimaux).",
		"err_date":                "{field} doit être une date entre aujourd’hui et dans un an.",
		"err_email":               "{field} doit être une adresse e-mail.",
		"err_hostname":            "{field} doit être un nom d’hôte, sans https:// ni chemin.",
		"err_uri":                 "{field} doit être une URL complète.",
		"err_pattern":             "{field} n’a pas le format attendu.",
		"err_pattern_secret":      "{field} n’a pas le format attendu. Copiez à nouveau la valeur entière ; elle a peut-être été tronquée.",
		"err_fix_fields":          "Veuillez corriger les champs signalés.",
		"err_invalid_credentials": "{provider} n’a pas accepté cet e-mail et ce jeton d’API. Vérifiez que le jeton a été copié en entier, qu’il appartient à ce compte et qu’il n’a pas expiré ni été révoqué.",
		"err_token_field":         "Vérifiez ce jeton.",
		"err_unknown_cloud":       "{provider} n’a aucun site avec ce Cloud ID.",
		"err_unavailable":         "{provider} est injoignable pour vérifier ces informations. Rien n’a été enregistré ; réessayez dans quelques minutes.",
		"err_rate_limited":        "Trop de tentatives. Attendez {seconds} secondes, puis réessayez.",
		"err_generic":             "Une erreur s’est produite. Veuillez réessayer.",
		"warn_title":              "Connecté, avec une remarque",
		"retry":                   "Réessayer",
	},
	"de": {
		"page_title":              "Konto verbinden",
		"loading":                 "Wird geladen…",
		"close":                   "Schließen",
		"back":                    "Zurück",
		"choose_title":            "Wählen Sie aus, was verbunden werden soll",
		"choose_body":             "Wählen Sie den Dienst, den Sie verknüpfen möchten.",
		"form_body":               "Füllen Sie die Felder unten aus. Sie werden bei {provider} geprüft, bevor etwas gespeichert wird.",
		"expiry_label":            "Ablaufdatum des Tokens",
		"expiry_help":             "Das Datum, das Sie beim Erstellen des Tokens gewählt haben. Die App wird vorher daran erinnert.",
		"form_title":              "{provider} verbinden",
		"reconnect_title":         "Zugangsdaten für {provider} aktualisieren",
		"reconnect_body":          "Geben Sie ein neues API-Token ein, um die Verbindung wiederherzustellen. Die übrigen Angaben stammen aus der bestehenden Verbindung.",
		"required":                "Pflichtfeld",
		"optional":                "optional",
		"how_find":                "Wo finde ich das?",
		"show_secret":             "Anzeigen",
		"hide_secret":             "Verbergen",
		"show_secret_label":       "{field} anzeigen",
		"hide_secret_label":       "{field} verbergen",
		"submit":                  "Verbinden",
		"submit_reconnect":        "Zugangsdaten aktualisieren",
		"busy":                    "Prüfung bei {provider}…",
		"guide_link":              "Schritt-für-Schritt-Anleitung",
		"success_title":           "Verbunden",
		"success_updated":         "Zugangsdaten aktualisiert",
		"success_body":            "Ihr {provider}-Konto ist verknüpft.",
		"success_account":         "Konto",
		"success_cloud":           "Cloud-ID",
		"success_site":            "Website",
		"close_window":            "Sie können dieses Fenster jetzt schließen.",
		"done":                    "Fertig",
		"expired_title":           "Dieser Link ist abgelaufen",
		"expired_body":            "Links zum Verbinden eines Kontos sind 30 Minuten gültig. Bitten Sie die App, die Sie hierher geschickt hat, um einen neuen.",
		"missing_title":           "Dieser Link ist unvollständig",
		"missing_body":            "Öffnen Sie den vollständigen Link oder bitten Sie um einen neuen.",
		"none_title":              "Nichts zu verbinden",
		"none_body":               "Für diesen Link ist keine Integration verfügbar.",
		"err_required":            "{field} ist erforderlich.",
		"err_uuid":                "{field} muss eine UUID sein, z. B. {example}.",
		"err_uuid_plain":          "{field} muss eine UUID sein (8-4-4-4-12 Hexadezimalzeichen).",
		"err_date":                "{field} muss ein Datum zwischen heute und in einem Jahr sein.",
		"err_email":               "{field} muss eine E-Mail-Adresse sein.",
		"err_hostname":            "{field} muss ein Hostname sein, ohne https:// und ohne Pfad.",
		"err_uri":                 "{field} muss eine vollständige URL sein.",
		"err_pattern":             "{field} hat nicht das erwartete Format.",
		"err_pattern_secret":      "{field} hat nicht das erwartete Format. Kopieren Sie den Wert erneut vollständig; er wurde vielleicht abgeschnitten.",
		"err_fix_fields":          "Bitte korrigieren Sie die markierten Felder.",
		"err_invalid_credentials": "{provider} hat diese E-Mail-Adresse und dieses API-Token nicht akzeptiert. Prüfen Sie, ob das Token vollständig kopiert wurde, zu diesem Konto gehört und nicht abgelaufen oder widerrufen ist.",
		"err_token_field":         "Prüfen Sie dieses Token.",
		"err_unknown_cloud":       "{provider} hat keine Website mit dieser Cloud-ID.",
		"err_unavailable":         "{provider} ist für die Prüfung nicht erreichbar. Es wurde nichts gespeichert; versuchen Sie es in einigen Minuten erneut.",
		"err_rate_limited":        "Zu viele Versuche. Warten Sie {seconds} Sekunden und versuchen Sie es dann erneut.",
		"err_generic":             "Etwas ist schiefgegangen. Bitte versuchen Sie es erneut.",
		"warn_title":              "Verbunden, mit einem Hinweis",
		"retry":                   "Erneut versuchen",
	},
	"es": {
		"page_title":              "Conectar una cuenta",
		"loading":                 "Cargando…",
		"close":                   "Cerrar",
		"back":                    "Atrás",
		"choose_title":            "Elija qué conectar",
		"choose_body":             "Seleccione el servicio que desea vincular.",
		"form_body":               "Complete los datos a continuación. Se comprueban con {provider} antes de guardar nada.",
		"expiry_label":            "Fecha de caducidad del token",
		"expiry_help":             "La fecha que eligió al crear el token. Avisamos a la aplicación antes de que deje de funcionar.",
		"form_title":              "Conectar {provider}",
		"reconnect_title":         "Actualizar las credenciales de {provider}",
		"reconnect_body":          "Introduzca un nuevo token de API para restablecer la conexión. Los demás datos se toman de la conexión existente.",
		"required":                "obligatorio",
		"optional":                "opcional",
		"how_find":                "¿Dónde lo encuentro?",
		"show_secret":             "Mostrar",
		"hide_secret":             "Ocultar",
		"show_secret_label":       "Mostrar {field}",
		"hide_secret_label":       "Ocultar {field}",
		"submit":                  "Conectar",
		"submit_reconnect":        "Actualizar credenciales",
		"busy":                    "Comprobando con {provider}…",
		"guide_link":              "Guía paso a paso",
		"success_title":           "Conectado",
		"success_updated":         "Credenciales actualizadas",
		"success_body":            "Su cuenta de {provider} está vinculada.",
		"success_account":         "Cuenta",
		"success_cloud":           "Cloud ID",
		"success_site":            "Sitio",
		"close_window":            "Ya puede cerrar esta ventana.",
		"done":                    "Listo",
		"expired_title":           "Este enlace ha caducado",
		"expired_body":            "Los enlaces para conectar una cuenta son válidos durante 30 minutos. Pida uno nuevo a la aplicación que le envió aquí.",
		"missing_title":           "Este enlace está incompleto",
		"missing_body":            "Abra el enlace completo que recibió o pida uno nuevo.",
		"none_title":              "Nada que conectar",
		"none_body":               "No hay ninguna integración disponible para este enlace.",
		"err_required":            "{field} es obligatorio.",
		"err_uuid":                "{field} debe ser un UUID, como {example}.",
		"err_uuid_plain":          "{field} debe ser un UUID (8-4-4-4-12 caracteres hexadecimales).",
		"err_date":                "{field} debe ser una fecha entre hoy y dentro de un año.",
		"err_email":               "{field} debe ser una dirección de correo electrónico.",
		"err_hostname":            "{field} debe ser un nombre de host, sin https:// ni ruta.",
		"err_uri":                 "{field} debe ser una URL completa.",
		"err_pattern":             "{field} no tiene el formato esperado.",
		"err_pattern_secret":      "{field} no tiene el formato esperado. Vuelva a copiar el valor completo; puede que se haya cortado.",
		"err_fix_fields":          "Corrija los campos marcados.",
		"err_invalid_credentials": "{provider} no aceptó este correo y este token de API. Compruebe que el token se copió completo, que pertenece a esta cuenta y que no ha caducado ni se ha revocado.",
		"err_token_field":         "Revise este token.",
		"err_unknown_cloud":       "{provider} no tiene ningún sitio con este Cloud ID.",
		"err_unavailable":         "No se pudo contactar con {provider} para comprobar estos datos. No se guardó nada; vuelva a intentarlo en unos minutos.",
		"err_rate_limited":        "Demasiados intentos. Espere {seconds} segundos y vuelva a intentarlo.",
		"err_generic":             "Algo salió mal. Vuelva a intentarlo.",
		"warn_title":              "Conectado, con una nota",
		"retry":                   "Reintentar",
	},
	"ja": {
		"page_title":              "アカウントを接続",
		"loading":                 "読み込み中…",
		"close":                   "閉じる",
		"back":                    "戻る",
		"choose_title":            "接続するサービスを選択",
		"choose_body":             "リンクするサービスを選んでください。",
		"form_body":               "以下の項目を入力してください。保存する前に {provider} で確認します。",
		"expiry_label":            "トークンの有効期限",
		"expiry_help":             "トークン作成時に選んだ日付です。期限切れになる前にアプリへお知らせします。",
		"form_title":              "{provider} を接続",
		"reconnect_title":         "{provider} の認証情報を更新",
		"reconnect_body":          "新しい API トークンを入力して接続を復元してください。その他の項目は既存の接続から入力されています。",
		"required":                "必須",
		"optional":                "任意",
		"how_find":                "どこで確認できますか?",
		"show_secret":             "表示",
		"hide_secret":             "非表示",
		"show_secret_label":       "{field} を表示",
		"hide_secret_label":       "{field} を非表示",
		"submit":                  "接続",
		"submit_reconnect":        "認証情報を更新",
		"busy":                    "{provider} で確認しています…",
		"guide_link":              "手順ガイド",
		"success_title":           "接続しました",
		"success_updated":         "認証情報を更新しました",
		"success_body":            "{provider} アカウントがリンクされました。",
		"success_account":         "アカウント",
		"success_cloud":           "Cloud ID",
		"success_site":            "サイト",
		"close_window":            "このウィンドウを閉じてかまいません。",
		"done":                    "完了",
		"expired_title":           "このリンクは有効期限切れです",
		"expired_body":            "アカウント接続用のリンクの有効期限は 30 分です。このページを案内したアプリに新しいリンクを依頼してください。",
		"missing_title":           "このリンクは不完全です",
		"missing_body":            "受け取ったリンクを完全な形で開くか、新しいリンクを依頼してください。",
		"none_title":              "接続できるものがありません",
		"none_body":               "このリンクで利用できる連携はありません。",
		"err_required":            "{field} は必須です。",
		"err_uuid":                "{field} は UUID で入力してください(例: {example})。",
		"err_uuid_plain":          "{field} は UUID(8-4-4-4-12 桁の 16 進数)で入力してください。",
		"err_date":                "{field} は今日から 1 年以内の日付にしてください。",
		"err_email":               "{field} はメールアドレスで入力してください。",
		"err_hostname":            "{field} はホスト名で入力してください(https:// やパスは不要です)。",
		"err_uri":                 "{field} は完全な URL で入力してください。",
		"err_pattern":             "{field} の形式が正しくありません。",
		"err_pattern_secret":      "{field} の形式が正しくありません。値全体をもう一度コピーしてください。途中で切れている可能性があります。",
		"err_fix_fields":          "強調表示された項目を修正してください。",
		"err_invalid_credentials": "{provider} はこのメールアドレスと API トークンを受け付けませんでした。トークンが最後までコピーされているか、このアカウントのものか、期限切れや取り消しになっていないかを確認してください。",
		"err_token_field":         "このトークンを確認してください。",
		"err_unknown_cloud":       "{provider} にこの Cloud ID のサイトはありません。",
		"err_unavailable":         "{provider} に接続できず、確認できませんでした。何も保存されていません。数分後にもう一度お試しください。",
		"err_rate_limited":        "試行回数が多すぎます。{seconds} 秒待ってからもう一度お試しください。",
		"err_generic":             "問題が発生しました。もう一度お試しください。",
		"warn_title":              "接続しました(注意事項あり)",
		"retry":                   "再試行",
	},
}

// strings returns the complete message set of lang (English filling gaps).
func stringsFor(lang string) map[string]string {
	out := make(map[string]string, len(messages["en"]))
	for k, v := range messages["en"] {
		out[k] = v
	}
	for k, v := range messages[lang] {
		out[k] = v
	}
	return out
}

// pickLanguage chooses from the lang parameter first, then Accept-Language.
func pickLanguage(param, acceptLanguage string) string {
	if l := matchLanguage(param); l != "" {
		return l
	}
	type pref struct {
		tag string
		q   float64
	}
	var prefs []pref
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if tag != "" && q > 0 {
			prefs = append(prefs, pref{tag, q})
		}
	}
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].q > prefs[j].q })
	for _, p := range prefs {
		if l := matchLanguage(p.tag); l != "" {
			return l
		}
	}
	return "en"
}

func matchLanguage(tag string) string {
	base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	base, _, _ = strings.Cut(base, "_")
	for _, l := range languages {
		if l == base {
			return l
		}
	}
	return ""
}
